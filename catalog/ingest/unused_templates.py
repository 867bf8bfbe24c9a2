"""Removing the item templates that no stored item row names any more.

A template (``item_templates``, migration 0020, :mod:`catalog.ingest.templates`) is
written once, by the load that learnt it, and never changed; item rows name it by id.
Items deleted, or rewritten by later loads against other templates, can leave templates
that nothing names: about a kilobyte each, never reclaimed on their own.
:func:`prune_unused_templates` deletes them (``stacql db templates prune``).

A template is in use while a row of any table that holds item rows names it: ``items``
(every partition), ``saved_search_deletions`` (deleted items, kept for saved-search
feeds until they expire) and the staging tables of bulk loads in progress
(``stacql_load_*``, whose rows join ``items`` when the load ends).

Why a table lock: every transaction that writes rows naming templates first writes
those templates (``INSERT ... ON CONFLICT DO NOTHING``, see
``catalog.ingest.items._insert_templates``), so it holds ``item_templates`` in ROW
EXCLUSIVE mode until it commits. Holding it in SHARE ROW EXCLUSIVE mode, the prune waits
for such transactions to commit and makes new ones wait for it; what it reads of the
item rows afterwards names every template a committed row names, and a load that
re-learns a pruned template after the prune writes it again. Loads wait for the length
of one scan of the item rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from catalog.errors import Conflict
from catalog.ingest.staging_tables import NAME as STAGING_NAME

LOCK_TIMEOUT = "30s"
"""How long the prune waits for loads writing templates to commit before it gives up."""

_STAGING_TABLES = f"""
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'items'::regclass)
  AND c.relname ~ '{STAGING_NAME.pattern}'
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
              AND a.attname = 'template_id' AND NOT a.attisdropped)
ORDER BY c.relname
"""


@dataclass(frozen=True)
class TemplatePrune:
    """What a prune found: the unused templates (removed unless a dry run) and how many
    templates stay in use."""

    unused: list[int]
    in_use: int


async def prune_unused_templates(
    engine: AsyncEngine, *, dry_run: bool = False
) -> TemplatePrune:
    """Delete the templates no item row names; ``dry_run`` lists them and deletes none.

    Raises :class:`~catalog.errors.Conflict` when loads keep ``item_templates`` locked
    for longer than ``LOCK_TIMEOUT``.
    """
    async with engine.begin() as conn:
        if not dry_run:
            await _lock_templates(conn)
        used = set(await _named_templates(conn))
        stored = (await conn.execute(
            text("SELECT id FROM item_templates ORDER BY id")
        )).scalars().all()
        unused = [t for t in stored if t not in used]
        if unused and not dry_run:
            await conn.execute(
                text("DELETE FROM item_templates WHERE id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": unused},
            )
    return TemplatePrune(unused=unused, in_use=len(stored) - len(unused))


async def _lock_templates(conn: AsyncConnection) -> None:
    await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    try:
        async with conn.begin_nested():
            await conn.exec_driver_sql("LOCK TABLE item_templates IN SHARE ROW EXCLUSIVE MODE")
    except DBAPIError as exc:
        raise Conflict(
            f"loads kept the item templates locked for {LOCK_TIMEOUT}; "
            "run the prune again when they are done"
        ) from exc
    await conn.execute(text("SET LOCAL lock_timeout = 0"))


async def _named_templates(conn: AsyncConnection) -> list[int]:
    """The template ids item rows name, each once. One statement, so one snapshot: a
    row deleted meanwhile is seen either in ``items`` or in the deletions."""
    # Names from the catalog (pg_class), quoted by quote_ident.
    staging = (await conn.execute(text(_STAGING_TABLES))).scalars().all()
    sources = ["items", "saved_search_deletions", *staging]
    # DISTINCT per table first: a hash of a few ids over each scan, where one UNION of
    # the raw columns would feed every row to a single aggregate.
    union = " UNION ".join(
        f"SELECT DISTINCT template_id FROM {table} WHERE template_id IS NOT NULL"
        for table in sources
    )
    return list((await conn.execute(text(union))).scalars().all())
