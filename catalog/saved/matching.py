"""Matching written and deleted items against the saved searches that have webhooks,
in bulk.

Triggers on ``items`` (migration 0015) queue the keys of written items in
``saved_search_changes``, and (migration 0016) copy deleted rows to
``saved_search_deletions``. A pass takes a batch of each (``FOR UPDATE SKIP LOCKED``,
so passes may run side by side), reads the batch's items (as they are now, or as they
were when deleted) once into a materialized CTE, evaluates every saved search's
conditions against it in one statement (a ``UNION ALL`` of one branch per search),
writes one notice per search, event (``item.changed``, ``item.deleted``) and
``NOTICE_SIZE`` items, and deletes the batch, all in one transaction: each change
becomes at most one notice item, and a pass that dies leaves its batch for the next.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    Table,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.sql.visitors import iterate

from catalog.db.errors import translate_db_errors
from catalog.db.models import (
    ApiKey,
    SavedSearch,
    SavedSearchChange,
    SavedSearchNotice,
    saved_search_deletions,
)
from catalog.saved.body import search_request
from catalog.saved.records import SavedSearchRecord
from catalog.search.render import items
from catalog.search.where import where_clauses

changes = cast(Table, SavedSearchChange.__table__)
deletions = saved_search_deletions
searches = cast(Table, SavedSearch.__table__)
notices = cast(Table, SavedSearchNotice.__table__)
keys = cast(Table, ApiKey.__table__)

BATCH_SIZE = 5_000
"""Changes matched per pass; each pass is one transaction."""
NOTICE_SIZE = 100
"""Items in one webhook notice at most."""
BRANCHES_PER_STATEMENT = 200
"""Saved searches evaluated by one statement (its bound parameters stay well under the
driver's 32,767)."""
CHANGED = "item.changed"
DELETED = "item.deleted"
"""Notice events: items written (added or changed) and items deleted."""


@dataclass
class MatchReport:
    """What a pass did: changes consumed, and new notices per saved search."""

    changes: int = 0
    notices: dict[uuid.UUID, int] = field(default_factory=dict)


async def pending_changes(session: AsyncSession) -> bool:
    """Whether written or deleted items wait for matching."""
    waiting = select(or_(exists().select_from(changes), exists().select_from(deletions)))
    with translate_db_errors():
        return bool((await session.execute(waiting)).scalar())


async def _notifying_searches(session: AsyncSession) -> list[SavedSearchRecord]:
    """Saved searches with a webhook whose credential still stands."""
    key_active = exists().where(keys.c.id == searches.c.key_id, keys.c.revoked_at.is_(None))
    query = select(searches).where(
        searches.c.webhook_url.is_not(None), or_(searches.c.key_id.is_(None), key_active)
    ).order_by(searches.c.id)
    return [SavedSearchRecord.from_row(row) for row in (await session.execute(query)).all()]


def _columns_used(requests: list[list[ColumnElement]]) -> list[Any]:
    """The ``items`` columns the conditions read, besides the keys: the batch copies
    only those (not the links, assets or extra members of every item)."""
    used = {"collection_id", "id"}
    for clauses in requests:
        for clause in clauses:
            used.update(
                element.name for element in iterate(clause)
                if isinstance(element, Column) and element.table is items
            )
    return [column for column in items.c if column.name in used]


def _branch(index: int, clauses: list[ColumnElement], batch: Any, by_name: bool) -> Select:
    # The batch of deletions is another table with the columns of ``items``: the
    # conditions' ``items`` columns are matched to it by name (and only those: a
    # subquery on collections keeps its own columns).
    adapter = ClauseAdapter(
        batch, adapt_on_names=by_name,
        include_fn=(lambda c: getattr(c, "table", None) is items) if by_name else None,
    )
    return select(
        literal(index).label("search"), batch.c.collection_id, batch.c.id, batch.c.changed_at
    ).where(*[adapter.traverse(clause) for clause in clauses])


def _batch(requests: list[list[ColumnElement]], seqs: list[int], deleted: bool) -> Any:
    """The CTE of a batch's items: written ones as they are, deleted ones as they were."""
    used = _columns_used(requests)
    if deleted:
        return (
            select(*[deletions.c[c.name] for c in used],
                   deletions.c.deleted_at.label("changed_at"))
            .where(deletions.c.seq.in_(seqs)).cte("gone").prefix_with("MATERIALIZED")
        )
    keys_of_batch = select(changes.c.collection_id, changes.c.item_id).where(
        changes.c.seq.in_(seqs)
    )
    return (
        select(*used, items.c.updated_at.label("changed_at"))
        .where(tuple_(items.c.collection_id, items.c.id).in_(keys_of_batch))
        .cte("batch").prefix_with("MATERIALIZED")
    )


async def _matches(
    session: AsyncSession, requests: list[list[ColumnElement]], seqs: list[int],
    deleted: bool = False,
) -> dict[int, list[Any]]:
    batch = _batch(requests, seqs, deleted)
    by_search: dict[int, list[Any]] = defaultdict(list)
    for start in range(0, len(requests), BRANCHES_PER_STATEMENT):
        part = requests[start:start + BRANCHES_PER_STATEMENT]
        branches = [
            _branch(start + i, clauses, batch, deleted) for i, clauses in enumerate(part)
        ]
        statement = branches[0] if len(branches) == 1 else union_all(*branches)
        for row in (await session.execute(statement)).all():
            by_search[row.search].append(row)
    return by_search


def _notice_rows(search_id: uuid.UUID, event: str, rows: list[Any]) -> list[dict[str, Any]]:
    rows = sorted(rows, key=lambda r: (r.changed_at, r.collection_id, r.id))
    entries = [
        {"collection": r.collection_id, "id": r.id, "changed_at": r.changed_at.isoformat()}
        for r in rows
    ]
    return [
        {"saved_search_id": search_id, "event": event, "items": entries[i:i + NOTICE_SIZE]}
        for i in range(0, len(entries), NOTICE_SIZE)
    ]


def _ordered_notices(
    found: list[SavedSearchRecord], written: dict[int, list[Any]], gone: dict[int, list[Any]]
) -> list[dict[str, Any]]:
    """The notices of a pass, per saved search in the order of their first item's change
    (a deletion after a change is sent after it)."""
    rows = []
    for index in sorted(written.keys() | gone.keys()):
        search_id = found[index].id
        of_search = [
            *_notice_rows(search_id, CHANGED, written.get(index, [])),
            *_notice_rows(search_id, DELETED, gone.get(index, [])),
        ]
        rows += sorted(of_search, key=lambda n: n["items"][0]["changed_at"])
    return rows


async def _take(session: AsyncSession, seq: Any, batch_size: int) -> list[int]:
    return list((await session.execute(
        select(seq).order_by(seq).limit(batch_size).with_for_update(skip_locked=True)
    )).scalars())


async def match_changes(session: AsyncSession, batch_size: int = BATCH_SIZE) -> MatchReport:
    """Match one batch of written and one of deleted items; the caller owns the
    transaction (commit it to keep the notices and drop the batches). Returns what the
    batches gave."""
    report = MatchReport()
    with translate_db_errors():
        # One branch per saved search makes the estimated cost large enough for JIT,
        # whose compilation takes far longer than the scans it would speed up.
        await session.execute(text("SET LOCAL jit = off"))
        # The batch is scanned once per saved search: keep it in memory.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        seqs = await _take(session, changes.c.seq, batch_size)
        gone_seqs = await _take(session, deletions.c.seq, batch_size)
        if not seqs and not gone_seqs:
            return report
        report.changes = len(seqs) + len(gone_seqs)
        found = await _notifying_searches(session)
        requests = await asyncio.to_thread(
            lambda: [where_clauses(search_request(s.search, s.readable_private)) for s in found]
        )
        written = await _matches(session, requests, seqs) if found and seqs else {}
        gone = await _matches(session, requests, gone_seqs, True) if found and gone_seqs else {}
        rows = _ordered_notices(found, written, gone)
        if rows:
            await session.execute(insert(notices), rows)
        for row in rows:
            search_id = row["saved_search_id"]
            report.notices[search_id] = report.notices.get(search_id, 0) + 1
        if seqs:
            await session.execute(delete(changes).where(changes.c.seq.in_(seqs)))
        if gone_seqs:
            await session.execute(delete(deletions).where(deletions.c.seq.in_(gone_seqs)))
    return report
