"""Schema migrations: create the database when missing and apply Alembic revisions."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sync_url(database_url: str) -> str:
    """The same database URL with the synchronous psycopg driver Alembic runs on."""
    return make_url(database_url).set(drivername="postgresql+psycopg").render_as_string(
        hide_password=False
    )


def ensure_database(database_url: str) -> bool:
    """Create the database named by the URL if it does not exist; True when created."""
    url = make_url(sync_url(database_url))
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            ).scalar()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(url.database or "")
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for our migrations against ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; running it again changes nothing."""
    ensure_database(database_url)
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            has_table = conn.execute(
                text("SELECT to_regclass('public.alembic_version') IS NOT NULL")
            ).scalar()
            if not has_table:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
