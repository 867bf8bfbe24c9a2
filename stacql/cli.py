"""The ``stacql`` command line: database migrations, bulk ingest and export."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from stacql.cli_access import collections_app, keys_app, run_with_engine

# Commands import what they need when they run (SQLAlchemy, Alembic, shapely, pydantic
# settings take a second to import): `stacql --help` only builds the command tree.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from catalog.db.partitions import ItemPartition, ItemSubpartition, SplitReport
    from catalog.export import ExportResult
    from catalog.ingest import LoadReport
    from catalog.search.usage import Usage
    from stacql.settings import Settings

# Plain help text: rich's help formatter alone takes longer to import than the target
# start-up of the whole command (0.3 s).
app = typer.Typer(help="stacql: a STAC catalog service on PostGIS.", no_args_is_help=True,
                  rich_markup_mode=None)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")
partitions_app = typer.Typer(help="The partitions of items (one per collection).",
                             no_args_is_help=True, rich_markup_mode=None)
db_app.add_typer(partitions_app, name="partitions")
templates_app = typer.Typer(help="The templates item rows are stored against.",
                            no_args_is_help=True, rich_markup_mode=None)
db_app.add_typer(templates_app, name="templates")
app.add_typer(keys_app, name="keys")
app.add_typer(collections_app, name="collections")
console = Console(stderr=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create the database and PostGIS if needed and apply migrations (safe to rerun)."""
    from catalog.db import current_revision, upgrade
    from stacql.settings import Settings

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
    from catalog.db import current_revision
    from stacql.settings import Settings

    typer.echo(current_revision(Settings().database.url) or "none")


@db_app.command("index-property")
def db_index_property(
    name: Annotated[str, typer.Argument(help="An item property, e.g. eo:cloud_cover")],
    collection: Annotated[
        str | None, typer.Option(help="Index it in this collection only")
    ] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the index instead")] = False,
) -> None:
    """Index a property for sortby and range filters (built without blocking writes)."""
    from catalog.search.property_indexes import create_property_index, drop_property_index

    if drop:
        dropped = run_with_engine(lambda e: drop_property_index(e, name, collection))
        console.print("dropped" if dropped else "no such property index")
        return
    index = run_with_engine(lambda e: create_property_index(e, name, collection))
    console.print(f"{index.index_name}: {index.property} in "
                  f"{index.collection_id or 'every collection'}")


@db_app.command("property-indexes")
def db_property_indexes() -> None:
    """List the declared property indexes (an invalid one, or one of an older shape, is
    rebuilt by index-property)."""
    from catalog.search.property_indexes import list_property_indexes

    for index in run_with_engine(list_property_indexes):
        state = "INVALID" if not index.valid else "valid" if index.current else "OLDER SHAPE"
        typer.echo(f"{index.property}\t{index.collection_id or '*'}\t{index.index_name}"
                   f"\t{state}")


@db_app.command("property-usage")
def db_property_usage(
    min_uses: Annotated[
        int, typer.Option(help="Suggest an index for properties used this often")
    ] = 100,
) -> None:
    """How often searches filtered and sorted by each item property, per searched
    collection (* for every collection), whether a declared index serves it, and the
    index-property commands for the most used ones that none serves."""
    from catalog.search.usage import EVERY_COLLECTION, property_usage

    async def read(engine: AsyncEngine) -> list[Usage]:
        async with engine.connect() as conn:
            return await property_usage(conn)

    usages = run_with_engine(read)
    if not usages:
        typer.echo("no property uses counted yet (searches are counted by `stacql serve`)")
        return
    typer.echo("property\tcollection\tfilters\tsorts\tlast used\tindexed")
    for usage in usages:
        typer.echo(f"{usage.name}\t{usage.collection_id}\t{usage.filters}\t{usage.sorts}\t"
                   f"{usage.last_used:%Y-%m-%d %H:%M}\t{'yes' if usage.indexed else 'no'}")
    for usage in usages:
        if not usage.indexed and usage.uses >= min_uses:
            where = "" if usage.collection_id == EVERY_COLLECTION else (
                f" --collection {shlex.quote(usage.collection_id)}"
            )
            typer.echo(f"suggested: stacql db index-property {shlex.quote(usage.name)}{where}")


@partitions_app.command("list")
def db_partitions_list() -> None:
    """List the partitions of items: table, collection, estimated rows, size; under a
    collection split by time range, its sub-partitions (indented, with their range)."""
    from catalog.db.partitions import item_partitions, item_subpartitions

    async def partitions(
        engine: AsyncEngine,
    ) -> tuple[list[ItemPartition], list[ItemSubpartition]]:
        async with engine.connect() as conn:
            return await item_partitions(conn), await item_subpartitions(conn)

    parts, subparts = run_with_engine(partitions)
    for part in parts:
        typer.echo(f"{part.table}\t{part.collection_id or '(default)'}\t"
                   f"{part.estimated_rows}\t{part.bytes}")
        for sub in subparts:
            if sub.partition == part.table:
                typer.echo(f"  {sub.table}\t{sub.bound}\t{sub.estimated_rows}\t{sub.bytes}")


@partitions_app.command("split")
def db_partitions_split(
    collection: Annotated[str, typer.Argument(help="The collection to split")],
    interval: Annotated[str, typer.Option(help="year or month")] = "year",
) -> None:
    """Split a collection's partition by time range: one sub-partition per interval
    holding items and a default one; writers make new ones as data arrives. One
    transaction: the collection's writers wait until it ends, its readers do not."""
    from catalog.db.partitions import SPLIT_INTERVALS, split_collection

    if interval not in SPLIT_INTERVALS:
        raise typer.BadParameter(f"one of {', '.join(SPLIT_INTERVALS)}", param_hint="--interval")

    async def split(engine: AsyncEngine) -> SplitReport:
        return await split_collection(engine, collection, interval, console.print)

    report = run_with_engine(split)
    console.print(f"moved {report.moved} items into {len(report.tables)} sub-partitions")


@partitions_app.command("move")
def db_partitions_move(
    collections: Annotated[
        list[str] | None,
        typer.Argument(help="Collections to move (default: every one in the default partition)"),
    ] = None,
) -> None:
    """Move collections out of the default partition into partitions of their own (a
    catalog migrated from one table); the emptied default partition is dropped."""
    from rich.progress import MofNCompleteColumn, Progress, TextColumn

    from catalog.db.partitions import (
        collections_in_default,
        drop_empty_default,
        move_all_to_own_partitions,
        move_to_own_partition,
    )

    async def move(engine: AsyncEngine) -> int:
        async with engine.connect() as conn:
            pending = collections or await collections_in_default(conn)
        with Progress(TextColumn("[bold]{task.description}"), MofNCompleteColumn(),
                      console=console) as bar:
            task = bar.add_task("collections", total=len(pending))
            moved = 0

            def advance(collection_id: str, n: int) -> None:
                bar.update(task, advance=1, description=f"{collection_id}: {n} items")

            if collections:
                for collection_id in collections:
                    n = await move_to_own_partition(engine, collection_id)
                    moved += n
                    advance(collection_id, n)
                await drop_empty_default(engine)
            else:
                moved = await move_all_to_own_partitions(engine, advance)
        return moved

    moved = run_with_engine(move)
    console.print(f"moved {moved} items")


@partitions_app.command("prune")
def db_partitions_prune() -> None:
    """Drop the empty partitions of deleted collections (each under a short exclusive
    lock on items)."""
    from catalog.db.partitions import drop_orphaned_partitions

    dropped = run_with_engine(drop_orphaned_partitions)
    for table in dropped:
        typer.echo(f"dropped {table}")
    console.print(f"dropped {len(dropped)} partitions")


@db_app.command("clean-staging")
def db_clean_staging(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the tables it would drop, drop none")
    ] = False,
) -> None:
    """Drop the staging tables (stacql_load_*) of bulk loads killed outright; the tables
    of loads still running are kept."""
    from catalog.ingest.staging_tables import drop_orphaned_staging_tables

    tables = run_with_engine(lambda e: drop_orphaned_staging_tables(e, dry_run=dry_run))
    verb = "would drop" if dry_run else "dropped"
    for table in tables:
        typer.echo(f"{verb} {table}")
    console.print(f"{verb} {len(tables)} staging tables")


@templates_app.command("prune")
def db_templates_prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the unused templates, delete none")
    ] = False,
) -> None:
    """Delete the item templates no stored item names any more (loads writing templates
    wait for one scan of the items)."""
    from catalog.ingest.unused_templates import prune_unused_templates

    pruned = run_with_engine(lambda e: prune_unused_templates(e, dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    for template in pruned.unused:
        typer.echo(f"{verb} template {template}")
    console.print(f"{verb} {len(pruned.unused)} unused templates; {pruned.in_use} in use")


async def _ingest(
    settings: Settings, paths: list[Path], collection: str | None, batch: int
) -> LoadReport:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from catalog.db import create_engine, create_sessionmaker
    from catalog.ingest import LoadReport, load_path
    from catalog.ingest.loader import retry_delays_within
    from catalog.ingest.sources import stac_files

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
            delays = retry_delays_within(settings.ingest.retry_seconds)
            for path in paths:
                report += await load_path(
                    sessions, path, collection_id=collection, batch_size=batch,
                    progress=advance, retry_delays=delays,
                )
            bar.update(task, completed=total)
        return report
    finally:
        await engine.dispose()


async def _enqueue_rasters(
    settings: Settings, paths: list[Path], collection: str, when: str | None, queue_name: str,
    key_prefix: str | None,
) -> tuple[int, list[str]]:
    from redis import Redis
    from rich.progress import MofNCompleteColumn, Progress, TextColumn

    from catalog.db import create_engine, create_sessionmaker
    from catalog.storage import create_asset_store
    from workers import FolderIngest, create_queue, enqueue_raster_folder

    engine = create_engine(settings.database.url, pool_size=2)
    redis = Redis.from_url(settings.redis.url)
    try:
        sessions = create_sessionmaker(engine)
        store = create_asset_store(settings.storage.url, settings.storage.options)
        queue = create_queue(redis, queue_name)
        plan = FolderIngest(collection, key_prefix=key_prefix, datetime=when)
        queued, errors = 0, []
        with Progress(TextColumn("[bold]rasters"), MofNCompleteColumn(), console=console) as bar:
            task = bar.add_task("rasters", total=None)
            for path in paths:
                report = await enqueue_raster_folder(
                    sessions, queue, store, path, plan,
                    on_job=lambda _raster, _job: bar.advance(task),
                )
                queued += len(report.jobs)
                errors += report.errors
        return queued, errors
    finally:
        redis.close()
        await engine.dispose()


async def _enqueue_catalogs(
    settings: Settings, paths: list[Path], collection: str | None, queue_name: str
) -> list[str]:
    from redis import Redis

    from catalog.db import create_engine, create_sessionmaker
    from workers import create_queue, enqueue_ingest_catalog

    engine = create_engine(settings.database.url, pool_size=2)
    redis = Redis.from_url(settings.redis.url)
    try:
        sessions = create_sessionmaker(engine)
        queue = create_queue(redis, queue_name)
        jobs = [
            await enqueue_ingest_catalog(sessions, queue, str(path.resolve()), collection)
            for path in paths
        ]
        return [str(job.id) for job in jobs]
    finally:
        redis.close()
        await engine.dispose()


def _expected_failures() -> tuple[type[Exception], ...]:
    """What a command reports in one line rather than with a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from catalog.errors import CatalogError

    return (CatalogError, OSError, SQLAlchemyError)


def _report_failure(exc: Exception) -> typer.Exit:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        console.print(
            f"[red]ingest failed:[/red] database error ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}); is the database migrated (stacql db upgrade)?"
        )
    else:
        console.print(f"[red]ingest failed:[/red] {exc}")
    return typer.Exit(1)


def _ingest_rasters(
    settings: Settings, paths: list[Path], collection: str | None, when: str | None,
    queue: str, key_prefix: str | None,
) -> None:
    import asyncio

    if collection is None:
        console.print("[red]ingest failed:[/red] --rasters needs --collection")
        raise typer.Exit(2)
    queued, errors = asyncio.run(
        _enqueue_rasters(settings, paths, collection, when, queue, key_prefix)
    )
    console.print(f"queued {queued} extraction jobs on {queue!r} for collection {collection!r}")
    for error in errors:
        console.print(f"[red]refused[/red] {error}", highlight=False)
    if errors:
        raise typer.Exit(1)


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="catalog.json, collection/item JSON, ndjson, stac-geoparquet files or folders"
        ),
    ],
    collection: Annotated[
        str | None, typer.Option(help="Collection for items that name none")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Items per transaction")] = None,
    rasters: Annotated[
        bool, typer.Option("--rasters", help="PATHS hold rasters: queue one extraction job each")
    ] = False,
    datetime: Annotated[
        str | None, typer.Option(help="With --rasters: RFC 3339 datetime of rasters with none")
    ] = None,
    key_prefix: Annotated[
        str | None,
        typer.Option(help="With --rasters: storage prefix of copied rasters (default: collection)"),
    ] = None,
    enqueue: Annotated[
        bool, typer.Option("--enqueue", help="Queue a bulk ingest job per path for the workers")
    ] = False,
    queue: Annotated[str | None, typer.Option(help="Queue of the jobs")] = None,
) -> None:
    """Load STAC collections and items (running it again changes nothing), or queue jobs:
    raster extraction (--rasters) or bulk ingest (--enqueue) for `stacql worker`."""
    import asyncio

    from stacql.settings import Settings

    settings = Settings()
    failures = _expected_failures()
    queue_name = queue or settings.workers.queues[0]
    try:
        if rasters:
            _ingest_rasters(settings, paths, collection, datetime, queue_name, key_prefix)
            return
        if enqueue:
            for job_id in asyncio.run(_enqueue_catalogs(settings, paths, collection, queue_name)):
                typer.echo(job_id)
            console.print(f"queued {len(paths)} ingest jobs on {queue_name!r}")
            return
        report = asyncio.run(
            _ingest(settings, paths, collection, batch_size or settings.ingest.batch_size)
        )
    except failures as exc:
        raise _report_failure(exc) from exc
    items = report.items
    console.print(
        f"collections: {report.collections or 'none'}; items: {items.inserted} inserted, "
        f"{items.updated} updated, {items.unchanged} unchanged"
    )
    for error in report.errors:
        console.print(f"[red]refused[/red] {error}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


async def _export(
    settings: Settings, search: dict, file_format: str, output: Path, base_url: str | None
) -> ExportResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from catalog.access import Principal
    from catalog.assets import AssetUrls
    from catalog.db import create_engine, create_sessionmaker
    from catalog.export import ExportSpec
    from catalog.export.run import export_to_file
    from catalog.storage import create_asset_store

    engine = create_engine(settings.database.url, pool_size=2)
    try:
        # The command line reads the whole catalog, private collections included.
        spec = ExportSpec.of(Principal("admin", name="command line"), search, file_format)
        store = create_asset_store(settings.storage.url, settings.storage.options)
        urls = AssetUrls(store, base_url.rstrip("/") + "/") if base_url else None
        columns = (TextColumn("[bold]export"), BarColumn(), TextColumn("{task.description}"),
                   TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("", total=1.0)
            return await export_to_file(
                create_sessionmaker(engine), spec, output, urls=urls,
                progress=lambda done, what: bar.update(task, completed=done, description=what),
            )
    finally:
        await engine.dispose()


def _search_body(
    search: str | None, collections: list[str] | None, ids: list[str] | None,
    bbox: str | None, datetime: str | None, filter: str | None,
) -> dict:
    """The STAC search body of the options: ``--search`` (JSON, or @file) and the rest."""
    import orjson

    body: dict = {}
    if search:
        raw = Path(search[1:]).read_bytes() if search.startswith("@") else search.encode()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            console.print(f"[red]export failed:[/red] --search is not JSON ({exc})")
            raise typer.Exit(2) from exc
    given = {"collections": collections, "ids": ids, "bbox": bbox, "datetime": datetime,
             "filter": filter}
    return {**body, **{k: v for k, v in given.items() if v}}


@app.command()
def export(
    output: Annotated[Path, typer.Argument(help="File to write (.parquet or .ndjson)")],
    collections: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help="Collection (repeatable)")
    ] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Item id (repeatable)")] = None,
    bbox: Annotated[str | None, typer.Option(help="west,south,east,north")] = None,
    datetime: Annotated[str | None, typer.Option(help="RFC 3339 instant or interval")] = None,
    filter: Annotated[str | None, typer.Option(help="CQL2 text or JSON filter")] = None,
    search: Annotated[
        str | None, typer.Option(help="A STAC search body as JSON, or @file holding one")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(help="geoparquet or ndjson (default: by the output's suffix)"),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Public URL of the API: stored assets' hrefs point there")
    ] = None,
) -> None:
    """Export the items a search matches to stac-geoparquet or ndjson (streamed: memory
    stays bounded whatever the count)."""
    import asyncio

    from stacql.settings import Settings

    chosen = format or ("ndjson" if output.suffix in (".ndjson", ".jsonl") else "geoparquet")
    body = _search_body(search, collections, ids, bbox, datetime, filter)
    try:
        result = asyncio.run(_export(Settings(), body, chosen, output, base_url))
    except _expected_failures() as exc:
        console.print(f"[red]export failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"{result.items} items of {len(result.collections)} collections written to {output} "
        f"({result.format}, {result.bytes} bytes)"
    )


@app.command()
def worker(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to work on (repeatable)")
    ] = None,
    burst: Annotated[bool, typer.Option(help="Stop when the queues are empty")] = False,
) -> None:
    """Run an RQ worker: raster extraction and ingest jobs, state kept in the jobs table."""
    from datetime import timedelta

    from stacql.notify import notify_config
    from stacql.settings import Settings
    from workers import WorkerConfig, run_worker
    from workers.extract import SAFE_DRIVERS, ExtractOptions

    settings = Settings()
    queues = tuple(queue or settings.workers.queues)
    console.print(f"worker on {settings.redis.url} queues {', '.join(queues)}")
    extract = ExtractOptions(
        grid_size=settings.workers.footprint_size,
        stats_size=settings.workers.sample_size,
        allowed_drivers=SAFE_DRIVERS,
        full_scan=settings.workers.full_scan,
        checksum=settings.workers.checksum,
        refine_bytes=settings.workers.refine_bytes,
    )
    config = WorkerConfig(
        database_url=settings.database.url, storage_url=settings.storage.url,
        storage_options=settings.storage.options, extract=extract,
        convert_to_cog=settings.workers.convert_to_cog,
        checksum_cache_ttl=settings.workers.checksum_cache_days * 24 * 3600,
        notify=notify_config(settings),
        export_retention=(
            timedelta(seconds=settings.exports.retention_seconds)
            if settings.exports.retention_seconds else None
        ),
        export_sweep_seconds=settings.exports.sweep_seconds,
    )
    run_worker(
        settings.redis.url, settings.database.url, settings.storage.url, queues, burst=burst,
        config=config,
    )


async def _watch(
    settings: Settings, collection: str, prefix: str | None, interval: float, when: str | None,
    queue_name: str,
) -> None:
    import asyncio
    import signal

    from redis import Redis

    from catalog.db import create_engine, create_sessionmaker
    from catalog.storage import create_asset_store
    from workers import create_queue
    from workers.watch import RasterWatcher, WatchPlan

    engine = create_engine(settings.database.url, pool_size=2)
    redis = Redis.from_url(settings.redis.url, socket_connect_timeout=5, socket_timeout=30)
    try:
        plan = WatchPlan(collection, prefix=prefix, interval=interval, datetime=when)
        watcher = RasterWatcher(
            create_sessionmaker(engine), create_queue(redis, queue_name),
            create_asset_store(settings.storage.url, settings.storage.options), plan,
            on_job=lambda key, job: typer.echo(f"queued {job.id} {key}"),
        )
        await watcher.check()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        console.print(f"watching {settings.storage.url} prefix {plan.folder!r} for {collection!r}")
        await watcher.run(stop)
        console.print("watch stopped")
    finally:
        redis.close()
        await engine.dispose()


@app.command()
def watch(
    collection: Annotated[str, typer.Option(help="Collection the rasters go to")],
    prefix: Annotated[
        str | None, typer.Option(help="Storage prefix to watch (default: the collection id)")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls")] = 2.0,
    datetime: Annotated[
        str | None, typer.Option(help="RFC 3339 datetime of rasters that carry none")
    ] = None,
    queue: Annotated[str | None, typer.Option(help="Queue of the jobs")] = None,
) -> None:
    """Queue an extraction job for every raster that appears or changes under a storage
    prefix (a folder or object-store prefix, polled); stops on SIGINT/SIGTERM."""
    import asyncio

    from stacql.settings import Settings

    settings = Settings()
    failures = _expected_failures()
    try:
        asyncio.run(
            _watch(settings, collection, prefix, interval, datetime,
                   queue or settings.workers.queues[0])
        )
    except failures as exc:
        console.print(f"[red]watch failed:[/red] {exc}")
        raise typer.Exit(1) from exc


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

    from stacql.settings import Settings

    settings = Settings()
    uvicorn.run(
        "stacql.app:create_app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers or settings.api.workers,
        proxy_headers=settings.api.trust_forwarded,
        forwarded_allow_ips="*" if settings.api.trust_forwarded else None,
        root_path=settings.api.root_path,
        log_level="info",
        access_log=settings.api.access_log,
    )


if __name__ == "__main__":
    app()
