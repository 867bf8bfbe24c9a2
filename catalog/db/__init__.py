"""Persistence: models, engine, migrations and driver-error translation."""

from catalog.db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from catalog.db.errors import translate_db_errors
from catalog.db.migrate import current_revision, ensure_database, upgrade
from catalog.db.models import Asset, Base, Collection, Item, Job

__all__ = [
    "Asset",
    "Base",
    "Collection",
    "Item",
    "Job",
    "create_engine",
    "create_read_sessionmaker",
    "create_sessionmaker",
    "current_revision",
    "ensure_database",
    "translate_db_errors",
    "upgrade",
]
