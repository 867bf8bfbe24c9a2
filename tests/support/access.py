"""API keys for tests: real keys in the test database, as ``stacql keys create`` makes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import create_key


async def admin_key(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The token of a new admin key (keys are emptied with the scratch catalog)."""
    async with sessions() as session, session.begin():
        _, token = await create_key(session, "tests", "admin")
    return token
