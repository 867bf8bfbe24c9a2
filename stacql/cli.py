"""The ``stacql`` command line: database migrations and bulk ingest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import SQLAlchemyError

from catalog.db import create_engine, create_sessionmaker, current_revision, upgrade
from catalog.errors import CatalogError
from catalog.ingest import LoadReport, load_path
from catalog.ingest.sources import stac_files
from stacql.settings import Settings

app = typer.Typer(help="stacql: a STAC catalog service on PostGIS.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the database and PostGIS if needed and apply migrations (safe to rerun)."""
    settings = Settings()
    try:
        upgrade(settings.database.url, revision)
    except Exception as exc:  # the edge: any failure is reported, not a traceback
        console.print(f"[red]db upgrade failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"database at revision {current_revision(settings.database.url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    typer.echo(current_revision(Settings().database.url) or "none")


async def _ingest(
    settings: Settings, paths: list[Path], collection: str | None, batch: int
) -> LoadReport:
    engine = create_engine(settings.database.url, pool_size=2)
    try:
        sessions = create_sessionmaker(engine)
        total = sum(len(stac_files(path)) for path in paths)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[docs]} documents"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("files", total=total, docs=0)
            seen: dict[str, int] = {"docs": 0, "files": 0}
            current: list[str] = []

            def advance(source: str, n: int) -> None:
                seen["docs"] += n
                if not current or current[-1] != source:
                    current.append(source)
                    bar.update(task, completed=len(current) - 1)
                bar.update(task, docs=seen["docs"])

            report = LoadReport()
            for path in paths:
                report += await load_path(
                    sessions, path, collection_id=collection, batch_size=batch, progress=advance
                )
            bar.update(task, completed=total)
        return report
    finally:
        await engine.dispose()


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(help="catalog.json, collection/item JSON, ndjson files or folders"),
    ],
    collection: Annotated[
        str | None, typer.Option(help="Collection for items that name none")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Items per transaction")] = None,
) -> None:
    """Load STAC collections and items; running it again changes nothing."""
    settings = Settings()
    try:
        report = asyncio.run(
            _ingest(settings, paths, collection, batch_size or settings.ingest.batch_size)
        )
    except (CatalogError, OSError) as exc:
        console.print(f"[red]ingest failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    except SQLAlchemyError as exc:
        console.print(
            f"[red]ingest failed:[/red] database error ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); is the database migrated (stacql db upgrade)?"
        )
        raise typer.Exit(1) from exc
    items = report.items
    console.print(
        f"collections: {report.collections or 'none'}; items: {items.inserted} inserted, "
        f"{items.updated} updated, {items.unchanged} unchanged"
    )
    for error in report.errors:
        console.print(f"[red]refused[/red] {error}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def worker(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to work on (repeatable)")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Stop when the queues are empty")] = False,
) -> None:
    """Run an RQ worker: raster extraction and ingest jobs, state kept in the jobs table."""
    from workers import run_worker

    settings = Settings()
    queues = tuple(queue or settings.workers.queues)
    console.print(f"worker on {settings.redis.url} queues {', '.join(queues)}")
    run_worker(
        settings.redis.url, settings.database.url, settings.storage.url, queues, burst=burst
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: STACQL_API_WORKERS, or cores)"),
    ] = None,
) -> None:
    """Serve the STAC API (and, as it lands, GraphQL) with uvicorn."""
    import uvicorn

    settings = Settings()
    uvicorn.run(
        "stacql.app:create_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers or settings.api.workers,
        proxy_headers=True,
        forwarded_allow_ips="*",
        root_path=settings.api.root_path,
        log_level="info",
    )


if __name__ == "__main__":
    app()
