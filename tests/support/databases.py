"""Throw-away PostGIS databases, migrated through the real ``stacql db upgrade``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.paths import REPO

ADMIN_URL = os.environ.get(
    "STACQL_TEST_ADMIN_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
)
# Where several people test on one server, each can name their databases apart.
DATABASE_PREFIX = os.environ.get("STACQL_TEST_DATABASE_PREFIX", "stacql_test")


def database_url(name: str) -> str:
    """The asyncpg URL of database ``name`` on the test server."""
    return make_url(ADMIN_URL).set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )


def create_migrated_database(label: str) -> str:
    """Create a fresh database and migrate it with ``stacql db upgrade``; returns its URL."""
    name = f"{DATABASE_PREFIX}_{label}_{uuid.uuid4().hex[:8]}"
    url = database_url(name)
    env = {**os.environ, "STACQL_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "stacql.cli", "db", "upgrade"],
        check=True, cwd=REPO, env=env, capture_output=True,
    )
    return url


def drop_database(url: str) -> None:
    """Drop a test database, closing whatever still connects to it."""
    name = make_url(url).database
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
