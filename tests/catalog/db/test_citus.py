"""Our statements on a real Citus cluster: the shared STAC data loaded through our bulk
load into a catalog distributed by ``catalog.db.citus``, searched with our engine, must
give the pages one PostgreSQL gives (the session's loaded catalog).

Skipped where the citus extension is not installed: ``.ci/run`` does not build Citus;
``scripts/citus/build.sh`` builds it from its source. The cluster (a coordinator and two
workers, ``scripts/citus/cluster.sh``) is made in a temporary folder on free ports and
deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.db.citus import distribute_catalog
from catalog.db.migrate import sync_url, upgrade
from catalog.search import build_search, search
from catalog.search.lookup import get_item
from tests.support.loading import load_shared_stac
from tests.support.paths import REPO

PG_BIN = Path(os.environ.get("STACQL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLUSTER = REPO / "scripts" / "citus" / "cluster.sh"
DATABASE = "stacql_test_citus"


def _citus_installed() -> bool:
    try:
        libdir = subprocess.run([str(PG_BIN / "pg_config"), "--pkglibdir"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return (Path(libdir) / "citus.so").is_file() and shutil.which("runuser") is not None


pytestmark = pytest.mark.skipif(
    not _citus_installed(),
    reason="the citus extension is not installed (.ci/run does not build Citus; "
    "scripts/citus/build.sh does)",
)

SEARCHES: list[dict[str, Any]] = [
    {"limit": 7},
    {"collections": ["joplin"], "limit": 5},
    {"collections": ["naip", "pgstac-test-collection"], "bbox": [-100, 30, -80, 45], "limit": 9},
    {"bbox": [-180, -60, 180, 80], "limit": 9},
    {"datetime": "2019-01-01T00:00:00Z/2022-12-31T23:59:59Z", "limit": 6},
    {"datetime": "../2021-06-01T00:00:00Z", "sortby": "-datetime", "limit": 6},
    {"bbox": [-130, 20, -60, 55], "sortby": "-datetime", "limit": 4},
    {"filter": "eo:cloud_cover < 50", "filter_lang": "cql2-text", "limit": 8},
    {"sortby": "-eo:cloud_cover", "limit": 10},
    {"q": "landsat", "limit": 5},
    {"ids": ["20201211_223832_CS2", "pgstac-test-item-0003"], "limit": 5},
    {"bbox": [-180, -90, 180, 90], "count": True, "limit": 3},
]
MAX_PAGES = 6


def _free_base_port() -> int:
    """A port with the next two free too (the coordinator's and the workers')."""
    for base in range(5460, 5560, 3):
        try:
            for port in range(base, base + 3):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three free ports for a Citus cluster")


@pytest.fixture(scope="module")
def citus_url() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="stacql-citus-test-")
    port = _free_base_port()
    env = {**os.environ, "CITUS_DIR": folder, "CITUS_PORT": str(port)}
    try:
        subprocess.run([str(CLUSTER), "createdb", DATABASE], check=True, env=env,
                       capture_output=True)
        url = f"postgresql+asyncpg://root@127.0.0.1:{port}/{DATABASE}"
        upgrade(url)
        engine = create_sync_engine(sync_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            distribute_catalog(conn, "id", shard_count=4)
        engine.dispose()
        yield url
    finally:
        subprocess.run([str(CLUSTER), "destroy"], env=env, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
async def citus_sessions(citus_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(citus_url, pool_size=4)
    sessions = create_sessionmaker(engine)
    report = await load_shared_stac(sessions)
    assert report.items.inserted > 0
    yield sessions
    await engine.dispose()


async def _pages(sessions: async_sessionmaker[AsyncSession],
                 params: dict[str, Any]) -> list[Any]:
    """Every page (up to MAX_PAGES) of a search: its documents and its count."""
    pages: list[Any] = []
    token = None
    async with sessions() as session:
        for _ in range(MAX_PAGES):
            page = await search(session, build_search(**params, token=token))
            pages.append((page.items, page.matched))
            token = page.next_token
            if token is None:
                break
    return pages


async def test_items_are_spread_over_the_workers(
    citus_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with citus_sessions() as session:
        rows = await session.execute(text(
            "SELECT p.logicalrelid::text, count(DISTINCT s.nodeport) "
            "FROM pg_dist_partition p JOIN pg_dist_shard sh USING (logicalrelid) "
            "JOIN pg_dist_shard_placement s USING (shardid) "
            "WHERE p.logicalrelid = 'items'::regclass GROUP BY 1"
        ))
        nodes = dict(rows.all())
        # Partitions made by our bulk load's collections are distributed too.
        partitions = (await session.execute(text(
            "SELECT count(*) FILTER (WHERE p.logicalrelid IS NULL), count(*) "
            "FROM pg_inherits i LEFT JOIN pg_dist_partition p ON p.logicalrelid = i.inhrelid "
            "WHERE i.inhparent = 'items'::regclass"
        ))).one()
    assert nodes == {"items": 2}
    assert partitions[0] == 0 and partitions[1] > 1


@pytest.mark.parametrize("params", SEARCHES, ids=lambda p: ",".join(sorted(p)))
async def test_search_pages_are_those_of_one_postgresql(
    loaded_sessions: async_sessionmaker[AsyncSession],
    citus_sessions: async_sessionmaker[AsyncSession],
    params: dict[str, Any],
) -> None:
    expected = await _pages(loaded_sessions, params)
    assert expected[0][0], "the search finds items in the shared data"
    assert await _pages(citus_sessions, params) == expected


async def test_item_lookup_is_that_of_one_postgresql(
    loaded_sessions: async_sessionmaker[AsyncSession],
    citus_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with loaded_sessions() as session:
        keys = (await session.execute(text(
            "SELECT collection_id, id FROM items ORDER BY md5(collection_id || id) LIMIT 5"
        ))).all()
    for collection_id, item_id in keys:
        async with loaded_sessions() as single, citus_sessions() as distributed:
            assert await get_item(distributed, collection_id, item_id) == await get_item(
                single, collection_id, item_id
            )
