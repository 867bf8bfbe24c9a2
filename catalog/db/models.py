"""SQLAlchemy 2 models of the catalog tables (collections, items, assets, jobs).

Items and assets are keyed by ``collection_id`` first so that every item query can be
scoped to a collection (and so the tables can later be distributed by it).

``items.datetime`` is the item's nominal time (``properties.datetime``, or its
``start_datetime`` when the item only has a range); ``start_datetime`` and
``end_datetime`` always hold the item's time range (both equal ``datetime`` for an
instant), so temporal searches are two indexed comparisons. ``properties`` keeps the
document exactly as it was given.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Interval,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    literal_column,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
CreatedAt = Annotated[
    datetime, mapped_column(DateTime(timezone=True), server_default=func.now())
]
Json = Annotated[Any, mapped_column(JSONB)]
# Item and asset keys compare byte by byte: cheaper index upkeep (migration 0008).
KeyText = Text(collation="C")


class Base(DeclarativeBase):
    """Declarative base of the catalog tables."""


class Collection(Base):
    """A STAC collection; ``content`` is the document served, extent kept current."""

    __tablename__ = "collections"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    license: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    providers: Mapped[Any] = mapped_column(JSONB, server_default="[]")
    summaries: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    item_assets: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    links: Mapped[Any] = mapped_column(JSONB, server_default="[]")
    declared_extent: Mapped[Json]
    spatial_extent: Mapped[Any | None] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False)
    )
    temporal_start: Mapped[Timestamp | None]
    temporal_end: Mapped[Timestamp | None]
    # How far its items' time ranges reach before and after their datetime (0022).
    item_time_lead: Mapped[timedelta] = mapped_column(Interval, server_default="0")
    item_time_lag: Mapped[timedelta] = mapped_column(Interval, server_default="0")
    queryables: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    private: Mapped[bool] = mapped_column(Boolean, server_default="false")
    content: Mapped[Json]
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]

    items: Mapped[list[Item]] = relationship(
        back_populates="collection",
        lazy="raise",
        primaryjoin="Collection.id == foreign(Item.collection_id)",
    )


# Item properties left out of their GIN index: timestamps, compared as times and never
# by containment, with values of their own on nearly every item (migration 0006).
UNINDEXED_PROPERTIES = ("datetime", "start_datetime", "end_datetime", "created", "updated")
_UNINDEXED_SQL = "'{" + ",".join(UNINDEXED_PROPERTIES) + "}'::text[]"


def indexed_properties() -> ColumnElement[Any]:
    """The expression of the GIN index of item properties: a containment test on it
    (``indexed_properties().contains(doc)``) is answered from the index, for any
    property not in ``UNINDEXED_PROPERTIES``."""
    return type_coerce(
        Item.__table__.c.properties.op("-")(literal_column(_UNINDEXED_SQL)), JSONB
    )


class Item(Base):
    """A STAC item; geometry in EPSG:4326, the time range in three indexed columns.

    No foreign key to ``collections``: the ingest service locks a batch's collections
    once instead of a key check per item, and triggers on ``collections`` delete the
    items of deleted or truncated collections (migration 0007).
    """

    __tablename__ = "items"
    __table_args__ = (
        Index("items_geometry_gist", "geometry", postgresql_using="gist"),
        # btree_gist: an area's items in time order, pages split by a 30-day time
        # bucket first (migrations 0017, 0023).
        Index(
            "items_time_bucket_gist", text("stacql_time_bucket(datetime)"), "geometry",
            "datetime", postgresql_using="gist",
        ),
        Index("items_datetime_idx", "datetime", "collection_id", "id"),
        Index("items_start_datetime_idx", "start_datetime"),
        Index("items_end_datetime_idx", "end_datetime"),
        Index(
            "items_properties_gin",
            text(f"(properties - {_UNINDEXED_SQL}) jsonb_path_ops"),
            postgresql_using="gin",
        ),
        # Free text (``q``): trigrams of catalog.search.where.item_text (migration 0010).
        Index(
            "items_text_trgm",
            text("stacql_item_text(properties) gin_trgm_ops"),
            postgresql_using="gin",
            postgresql_where=text("stacql_item_text(properties) IS NOT NULL"),
        ),
    )

    collection_id: Mapped[str] = mapped_column(KeyText, primary_key=True)
    id: Mapped[str] = mapped_column(KeyText, primary_key=True)
    geometry: Mapped[Any | None] = mapped_column(
        Geometry("GEOMETRY", srid=4326, spatial_index=False)
    )
    bbox: Mapped[list[float] | None] = mapped_column(ARRAY(Float))
    datetime: Mapped[Timestamp]
    start_datetime: Mapped[Timestamp]
    end_datetime: Mapped[Timestamp]
    properties: Mapped[Json]
    links: Mapped[Any] = mapped_column(JSONB, server_default="[]")
    stac_version: Mapped[str] = mapped_column(String(32))
    # NULL: the list of the item's template (migration 0020).
    stac_extensions: Mapped[Any | None] = mapped_column(JSONB, server_default="[]")
    extra: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    # 128 bits of the SHA-256 of the item's stored columns (migration 0019).
    content_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]
    # The STAC assets object as served, and the document order of its keys as their
    # positions in JSONB's own key order (``1,0,2``), NULL when the orders agree
    # (migration 0019; ``catalog.search.assets.in_document_order``).
    assets: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    asset_order: Mapped[str | None] = mapped_column(Text)
    # The ``item_templates`` row holding what the row leaves out of ``assets`` and
    # ``stac_extensions``; NULL when it leaves out nothing (migration 0020). Served
    # through ``catalog.search.render``, never read raw.
    template_id: Mapped[int | None] = mapped_column(BigInteger)
    # 2,048 blanks, so PostgreSQL compresses every new row (migration 0020); never read.
    compress_pad: Mapped[str | None] = mapped_column(
        Text, server_default=text("repeat(' ', 2048)"), deferred=True
    )

    collection: Mapped[Collection] = relationship(
        back_populates="items",
        lazy="raise",
        primaryjoin="Collection.id == foreign(Item.collection_id)",
    )


class ItemTemplate(Base):
    """What the items of a load share (their assets' common members, their
    ``stac_extensions``), stored once; ``id`` is a digest of ``body``, so a template
    never changes (migration 0020, ``catalog.ingest.templates``)."""

    __tablename__ = "item_templates"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]


class Asset(Base):
    """One asset of an item: a row of the ``assets`` view over ``items.assets``
    (migration 0019), for reading; ``document`` is the STAC asset object, ``fields``
    its members besides the named columns, ``position`` its place in the item."""

    __tablename__ = "assets"

    collection_id: Mapped[str] = mapped_column(KeyText, primary_key=True)
    item_id: Mapped[str] = mapped_column(KeyText, primary_key=True)
    key: Mapped[str] = mapped_column(KeyText, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    href: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(Text))
    fields: Mapped[Any] = mapped_column(JSONB)
    document: Mapped[Any] = mapped_column(JSONB)


class Job(Base):
    """An upload or ingest request followed by clients: status, progress, outcome."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("jobs_status_idx", "status", "created_at"),
        Index("jobs_expires_idx", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="queued")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    message: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    params: Mapped[Any] = mapped_column(JSONB, server_default="{}")
    result: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]
    # When the job's output (an export's file) is removed (migration 0016).
    expires_at: Mapped[Timestamp | None]


class ApiKey(Base):
    """An API key: its scope (and collection, if limited to one) and a salted hash of its
    token; the token itself is shown once at creation and never stored."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    collection_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("collections.id", ondelete="CASCADE")
    )
    lookup: Mapped[str] = mapped_column(Text, unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]
    revoked_at: Mapped[Timestamp | None]


class ServiceSecret(Base):
    """A secret the service's processes share (the key that signs asset URLs), made once
    by whichever process needs it first."""

    __tablename__ = "service_secrets"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[CreatedAt]


class MosaicSearch(Base):
    """A search registered for mosaic tiles, under an id derived from its content."""

    __tablename__ = "mosaic_searches"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    search: Mapped[Any] = mapped_column(JSONB)
    created_at: Mapped[CreatedAt]


class SavedSearch(Base):
    """A STAC search kept by its owner (an API key or a JWT subject), with the private
    collections it may see and, optionally, a webhook notified of new matches."""

    __tablename__ = "saved_searches"
    __table_args__ = (Index("saved_searches_owner_idx", "owner", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    owner: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    search: Mapped[Json]
    readable_private: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    key_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("api_keys.id", ondelete="CASCADE")
    )
    webhook_url: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[CreatedAt]


class SavedSearchChange(Base):
    """An item written while some saved search has a webhook (filled by triggers on
    ``items``; migration 0015), waiting for the matcher."""

    __tablename__ = "saved_search_changes"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    collection_id: Mapped[str] = mapped_column(KeyText)
    item_id: Mapped[str] = mapped_column(KeyText)
    changed_at: Mapped[Timestamp]


class SavedSearchNotice(Base):
    """One webhook notice of a saved search: the items it reports and its delivery."""

    __tablename__ = "saved_search_notices"
    __table_args__ = (Index("saved_search_notices_search_idx", "saved_search_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    saved_search_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("saved_searches.id", ondelete="CASCADE")
    )
    items: Mapped[Json]
    # ``item.changed`` or ``item.deleted`` (migration 0016).
    event: Mapped[str] = mapped_column(Text, server_default="item.changed")
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[CreatedAt]
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    delivered_at: Mapped[Timestamp | None]


saved_search_deletions = Table(
    "saved_search_deletions",
    Base.metadata,
    # ``LIKE items`` (migration 0016): the deleted rows as they were, then their order.
    *(Column(c.name, c.type, nullable=c.nullable) for c in Item.__table__.columns),
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)
"""Items deleted while some saved search has a webhook (filled by a trigger on
``items``), waiting for the matcher, which tells the searches they matched."""
