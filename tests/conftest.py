"""Fixtures: real PostGIS databases migrated with ``stacql db upgrade``.

``catalog_sessions`` is a catalog loaded once per test session with every STAC source of
``../shared/data/stac`` (read-only by convention); ``scratch_sessions`` is an empty
catalog truncated before each test that uses it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.ingest import LoadReport
from tests.support.databases import create_migrated_database, drop_database
from tests.support.loading import load_shared_stac
from tests.support.tokens import make_signer


@pytest.fixture(scope="session")
def catalog_url() -> Iterator[str]:
    url = create_migrated_database("catalog")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def scratch_url() -> Iterator[str]:
    url = create_migrated_database("scratch")
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
async def catalog_sessions(catalog_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(catalog_url, pool_size=4)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
async def shared_load_report(catalog_sessions: async_sessionmaker[AsyncSession]) -> LoadReport:
    return await load_shared_stac(catalog_sessions)


@pytest.fixture(scope="session")
async def loaded_sessions(
    catalog_sessions: async_sessionmaker[AsyncSession], shared_load_report: LoadReport
) -> async_sessionmaker[AsyncSession]:
    """Sessions on the catalog holding all of ``../shared/data/stac``."""
    return catalog_sessions


@pytest.fixture(scope="session")
async def _scratch_engine_sessions(
    scratch_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(scratch_url, pool_size=4)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def scratch_sessions(
    _scratch_engine_sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Sessions on an empty catalog (all tables truncated before the test)."""
    async with _scratch_engine_sessions() as session, session.begin():
        await session.execute(text("TRUNCATE collections, items, jobs, api_keys CASCADE"))
    return _scratch_engine_sessions


@pytest.fixture(scope="session")
def signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """An OIDC issuer for tests: its RSA key and the JWKS file publishing it."""
    return make_signer(tmp_path_factory.mktemp("jwks"))
