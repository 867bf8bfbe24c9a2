"""``stacql keys ...`` and ``stacql collections ...``: API keys and private collections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported when a command runs: `stacql --help` stays fast
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

keys_app = typer.Typer(help="API keys (only a salted hash of each token is stored).",
                       no_args_is_help=True, rich_markup_mode=None)
collections_app = typer.Typer(help="Collection visibility.", no_args_is_help=True,
                              rich_markup_mode=None)
console = Console(stderr=True)
T = TypeVar("T")


def run_with_engine(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on an engine of the configured database; a catalog error exits with
    status 1."""

    import asyncio

    from catalog.db import create_engine
    from catalog.errors import CatalogError
    from stacql.settings import Settings

    async def main() -> T:
        engine = create_engine(Settings().database.url, pool_size=1)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except CatalogError as exc:
        console.print(f"[red]{exc.code}:[/red] {exc.message}")
        raise typer.Exit(1) from exc


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction; a catalog error exits with status 1."""
    from catalog.db import create_sessionmaker

    async def in_transaction(engine: AsyncEngine) -> T:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)

    return run_with_engine(in_transaction)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    scope: Annotated[str, typer.Option(help="read, write or admin")] = "read",
    collection: Annotated[
        str | None, typer.Option(help="Limit the key to this collection")
    ] = None,
) -> None:
    """Create a key and print its token once (it cannot be shown again)."""
    from catalog.access import create_key

    record, token = _run(lambda s: create_key(s, name, scope, collection))
    console.print(f"key {record.id} ({record.scope}"
                  f"{', collection ' + record.collection_id if record.collection_id else ''})")
    typer.echo(token)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never their tokens)."""
    from rich.table import Table

    from catalog.access import list_keys

    table = Table("id", "name", "scope", "collection", "created", "revoked")
    for key in _run(list_keys):
        table.add_row(str(key.id), key.name, key.scope, key.collection_id or "*",
                      f"{key.created_at:%Y-%m-%d %H:%M}",
                      f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "")
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="Key id or name")]) -> None:
    """Revoke a key (by id, or every active key of that name); it stops working at once."""
    from catalog.access import revoke_key

    for record in _run(lambda s: revoke_key(s, key)):
        console.print(f"revoked {record.id} ({record.name})")


@collections_app.command("private")
def collections_private(
    collection: str,
    public: Annotated[bool, typer.Option("--public", help="Make it public again")] = False,
) -> None:
    """Make a collection private: invisible without a key that may read it."""
    from catalog.access import set_private

    _run(lambda s: set_private(s, collection, not public))
    console.print(f"collection {collection} is now {'public' if public else 'private'}")
