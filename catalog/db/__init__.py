"""Persistence: models, engine, migrations and driver-error translation."""

from catalog.db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from catalog.db.errors import translate_db_errors
from catalog.db.migrate import current_revision, ensure_database, upgrade
from catalog.db.models import Asset, Base, Collection, Item, Job
from catalog.db.replicas import (
    ReadScope,
    ReplicaSet,
    RoutedSessions,
    create_replica_set,
    current_scope,
    read_scope,
)

__all__ = [
    "Asset",
    "Base",
    "Collection",
    "Item",
    "Job",
    "ReadScope",
    "ReplicaSet",
    "RoutedSessions",
    "create_engine",
    "create_read_sessionmaker",
    "create_replica_set",
    "create_sessionmaker",
    "current_revision",
    "current_scope",
    "ensure_database",
    "read_scope",
    "translate_db_errors",
    "upgrade",
]
