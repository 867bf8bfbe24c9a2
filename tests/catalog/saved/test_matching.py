"""Written items are matched against saved searches with webhooks, in bulk, once each."""

from __future__ import annotations

from typing import Any

import shapely
import shapely.geometry
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import Principal
from catalog.db.models import SavedSearchChange, SavedSearchNotice, saved_search_deletions
from catalog.ingest import delete_collection, delete_item, upsert_items
from catalog.operations import SavedSearchOperations
from catalog.saved import DELETED, SavedSearchInput, match_changes
from catalog.stac import normalize_items
from tests.catalog.saved.conftest import naip_items, owner

HOOK = "https://hooks.example.com/stacql"
AREA = (-85.9, 30.9, -85.6, 31.0)


class _PublicResolver:
    def __call__(self, host: str) -> list[str]:
        return ["93.184.215.14"]


def _operations(sessions: async_sessionmaker[AsyncSession]) -> SavedSearchOperations:
    from catalog.access import FetchPolicy

    return SavedSearchOperations(sessions, FetchPolicy(resolver=_PublicResolver()))


async def _write(sessions: async_sessionmaker[AsyncSession], docs: list[dict[str, Any]]) -> None:
    async with sessions() as session, session.begin():
        await upsert_items(session, normalize_items(docs, None))


async def _match_all(sessions: async_sessionmaker[AsyncSession]) -> None:
    while True:
        async with sessions() as session, session.begin():
            if not (await match_changes(session, batch_size=300)).changes:
                return


async def _notified(sessions: async_sessionmaker[AsyncSession], search_id: Any) -> list[str]:
    notices = SavedSearchNotice.__table__
    async with sessions() as session:
        rows = (await session.execute(
            select(notices.c["items"]).where(notices.c.saved_search_id == search_id)
            .order_by(notices.c.id)
        )).scalars()
        return [entry["id"] for batch in rows for entry in batch]


def _in_area(doc: dict[str, Any]) -> bool:
    return shapely.geometry.shape(doc["geometry"]).intersects(shapely.box(*AREA))


async def test_items_written_are_matched_once_against_each_saved_search(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    operations = _operations(naip_sessions)
    alice = owner("alice")
    area = await operations.create(
        alice, SavedSearchInput("area", {"bbox": list(AREA)}, HOOK)
    )
    recent = await operations.create(alice, SavedSearchInput(
        "recent and clear",
        {"collections": ["naip"], "datetime": "2019-01-01T00:00:00Z/..",
         "filter": {"op": "<", "args": [{"property": "gsd"}, 0.7]}},
        HOOK,
    ))
    docs = naip_items()
    await _write(naip_sessions, docs)
    await _match_all(naip_sessions)

    assert sorted(await _notified(naip_sessions, area.id)) == sorted(
        d["id"] for d in docs if _in_area(d)
    )
    expected = [
        d["id"] for d in docs
        if d["properties"]["datetime"] >= "2019" and d["properties"]["gsd"] < 0.7
    ]
    assert expected and sorted(await _notified(naip_sessions, recent.id)) == sorted(expected)
    async with naip_sessions() as session:
        left = await session.scalar(select(func.count()).select_from(SavedSearchChange))
    assert left == 0


async def test_an_item_changed_again_is_notified_again_and_an_unchanged_one_is_not(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    operations = _operations(naip_sessions)
    search = await operations.create(owner("bob"), SavedSearchInput("all", {}, HOOK))
    docs = naip_items()[:3]
    await _write(naip_sessions, docs)
    await _match_all(naip_sessions)
    await _write(naip_sessions, docs)  # the same documents: nothing changes
    properties = docs[0]["properties"]
    changed = {**docs[0], "properties": {**properties, "gsd": properties["gsd"] * 2}}
    await _write(naip_sessions, [changed])
    await _match_all(naip_sessions)
    assert sorted(await _notified(naip_sessions, search.id)) == sorted(
        [d["id"] for d in docs] + [docs[0]["id"]]
    )


async def test_items_written_without_webhooks_queue_no_changes(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _operations(naip_sessions).create(owner("carol"), SavedSearchInput("quiet", {}))
    await _write(naip_sessions, naip_items()[:10])
    async with naip_sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SavedSearchChange)) == 0


async def _events(
    sessions: async_sessionmaker[AsyncSession], search_id: Any
) -> list[tuple[str, list[str]]]:
    notices = SavedSearchNotice.__table__
    async with sessions() as session:
        rows = (await session.execute(
            select(notices.c.event, notices.c["items"])
            .where(notices.c.saved_search_id == search_id).order_by(notices.c.id)
        )).all()
    return [(event, [entry["id"] for entry in entries]) for event, entries in rows]


async def test_deleted_items_are_notified_to_the_searches_they_matched_once(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    operations = _operations(naip_sessions)
    # A reader's search: its conditions hide private collections by a subquery, which
    # must keep reading ``collections`` while the rest reads the deleted rows.
    dave = Principal("read", "naip", "token of 'dave'", subject="dave")
    area = await operations.create(dave, SavedSearchInput("area", {"bbox": list(AREA)}, HOOK))
    docs = naip_items()[:60]
    inside = [d for d in docs if _in_area(d)]
    outside = [d for d in docs if not _in_area(d)]
    assert inside and outside
    await _write(naip_sessions, docs)
    await _match_all(naip_sessions)
    async with naip_sessions() as session, session.begin():
        for doc in (inside[0], outside[0]):
            await delete_item(session, "naip", doc["id"])
    await _match_all(naip_sessions)
    await _match_all(naip_sessions)  # a second pass finds nothing more

    events = await _events(naip_sessions, area.id)
    assert [event for event, _ in events] == ["item.changed", DELETED]
    assert sorted(events[0][1]) == sorted(d["id"] for d in inside)
    assert events[1][1] == [inside[0]["id"]]
    async with naip_sessions() as session:
        left = await session.scalar(select(func.count()).select_from(saved_search_deletions))
    assert left == 0


async def test_a_deleted_collection_notifies_each_matching_item(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    operations = _operations(naip_sessions)
    clear = await operations.create(owner("erin"), SavedSearchInput(
        "fine", {"filter": {"op": "<", "args": [{"property": "gsd"}, 0.7]}}, HOOK,
    ))
    docs = naip_items()[:200]
    await _write(naip_sessions, docs)
    await _match_all(naip_sessions)
    async with naip_sessions() as session, session.begin():
        await delete_collection(session, "naip")
    await _match_all(naip_sessions)
    deleted = [ids for event, ids in await _events(naip_sessions, clear.id) if event == DELETED]
    expected = sorted(d["id"] for d in docs if d["properties"]["gsd"] < 0.7)
    assert expected and sorted(i for ids in deleted for i in ids) == expected


async def test_the_deletions_table_has_the_columns_of_items(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The trigger copies ``SELECT *`` of deleted rows: a column added to items only
    # would make every delete fail once a webhook exists.
    query = text(
        "SELECT table_name, array_agg(column_name::text || ' ' || data_type"
        " ORDER BY ordinal_position) FROM information_schema.columns"
        " WHERE table_name IN ('items', 'saved_search_deletions') GROUP BY table_name"
    )
    async with naip_sessions() as session:
        columns = {name: cols for name, cols in (await session.execute(query)).all()}
    assert columns["saved_search_deletions"][:-2] == columns["items"]
    assert columns["saved_search_deletions"][-2:] == ["seq bigint",
                                                      "deleted_at timestamp with time zone"]


async def test_items_deleted_without_webhooks_are_not_kept(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _operations(naip_sessions).create(owner("frank"), SavedSearchInput("quiet", {}))
    docs = naip_items()[:3]
    await _write(naip_sessions, docs)
    async with naip_sessions() as session, session.begin():
        await delete_item(session, "naip", docs[0]["id"])
    async with naip_sessions() as session:
        assert await session.scalar(
            select(func.count()).select_from(saved_search_deletions)
        ) == 0
