"""Saved search operations: the delivery log follows the webhook's life."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import FetchPolicy
from catalog.ingest import upsert_items
from catalog.operations import SavedSearchOperations
from catalog.saved import SavedSearchChanges, SavedSearchInput, match_changes
from catalog.stac import normalize_items
from tests.catalog.saved.conftest import naip_items, owner

HOOK = "https://93.184.215.14/hook"  # a public address: no DNS needed offline


async def test_removing_the_webhook_cancels_the_waiting_notices_and_stops_new_ones(
    naip_sessions: async_sessionmaker[AsyncSession],
) -> None:
    operations = SavedSearchOperations(naip_sessions, FetchPolicy())
    dana = owner("dana")
    search = await operations.create(dana, SavedSearchInput("all", {}, HOOK))
    docs = naip_items()[:5]
    async with naip_sessions() as session, session.begin():
        await upsert_items(session, normalize_items(docs[:3], None))
    async with naip_sessions() as session, session.begin():
        await match_changes(session)
    await operations.update(dana, str(search.id), SavedSearchChanges(remove_webhook=True))
    async with naip_sessions() as session, session.begin():
        await upsert_items(session, normalize_items(docs[3:], None))
        assert (await match_changes(session)).notices == {}
    log = await operations.deliveries(dana, str(search.id))
    assert [(n.status, len(n.items)) for n in log] == [("cancelled", 3)]
