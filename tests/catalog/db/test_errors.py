"""Driver errors become catalog errors whose messages never quote SQL or bound values."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db.errors import translate_db_errors
from catalog.errors import CatalogError, InvalidInput

SECRET = "sekrit-value-7c1f"


async def _refusal(sessions: async_sessionmaker[AsyncSession], statement, **params) -> CatalogError:
    async with sessions() as session:
        with pytest.raises(CatalogError) as raised, translate_db_errors():
            await session.execute(statement, params)
    return raised.value


def _quotes_nothing(error: CatalogError) -> None:
    for leak in ("select", SECRET, "$1", "::", "asyncpg", "sql"):
        assert leak not in error.message.lower()
    assert len(error.message) < 200


async def test_too_many_bound_values_is_bad_input_not_an_outage(catalog_sessions) -> None:
    values = [f"{SECRET}-{i}" for i in range(33_000)]
    statement = select(literal(1)).where(literal(SECRET).in_(values))
    error = await _refusal(catalog_sessions, statement)
    assert isinstance(error, InvalidInput)
    _quotes_nothing(error)


@pytest.mark.parametrize("value", [SECRET, f"{SECRET}\x00"], ids=["not-a-number", "nul"])
async def test_values_the_database_refuses_are_not_quoted(catalog_sessions, value: str) -> None:
    error = await _refusal(catalog_sessions, text("SELECT CAST(:v AS numeric)"), v=value)
    assert isinstance(error, InvalidInput)
    _quotes_nothing(error)


async def test_a_duplicate_key_quotes_no_stored_values(scratch_sessions) -> None:
    async with scratch_sessions() as session:
        await session.execute(text("CREATE TEMP TABLE t (k text PRIMARY KEY)"))
        await session.execute(text("INSERT INTO t VALUES (:k)"), {"k": SECRET})
        with pytest.raises(CatalogError) as raised, translate_db_errors():
            await session.execute(text("INSERT INTO t VALUES (:k)"), {"k": SECRET})
    assert raised.value.code == "CONFLICT"
    _quotes_nothing(raised.value)


