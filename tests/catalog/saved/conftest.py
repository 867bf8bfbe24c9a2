"""Fixtures of the saved-search tests: the NAIP collection's 1,000 real items, and owners."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import Principal
from catalog.ingest import upsert_collection
from tests.support.paths import STAC_DATA

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"


def naip_items() -> list[dict[str, Any]]:
    """The 1,000 NAIP items of the shared data, as given."""
    return [orjson.loads(line) for line in (NAIP / "items.ndjson").read_bytes().splitlines()]


def owner(name: str, scope: str = "write") -> Principal:
    """A caller holding a JWT with subject ``name``."""
    return Principal(scope, None, f"token of {name!r}", subject=name)


FORGET = text(
    "TRUNCATE saved_searches, saved_search_changes, saved_search_deletions CASCADE"
)


@pytest.fixture
async def naip_sessions(
    scratch_sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """An empty catalog with the NAIP collection and no saved searches nor changes
    (none left behind either: a webhook would queue the writes of later tests)."""
    async with scratch_sessions() as session, session.begin():
        await session.execute(FORGET)
        await upsert_collection(session, orjson.loads((NAIP / "collection.json").read_bytes()))
    yield scratch_sessions
    async with scratch_sessions() as session, session.begin():
        await session.execute(FORGET)
