"""Finding the stored object behind an item's asset, under the catalog's access rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, outerjoin, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.access.principal import Principal
from catalog.access.signing import grant_is_current
from catalog.db.errors import translate_db_errors
from catalog.db.models import Collection, Item
from catalog.errors import ItemNotFound, NotFound, Unauthorized, UnknownCollection
from catalog.search.assets import in_document_order
from catalog.search.render import item_assets_json
from catalog.storage import AssetStore

RASTER_ROLES = ("visual", "data")
RASTER_MEDIA_TYPES = ("image/tiff", "image/jp2", "image/vnd.stac.geotiff")


@dataclass(frozen=True)
class StoredAsset:
    """An item's asset whose bytes are in our store at ``store_key``; ``document`` is its
    STAC asset object (with its href as stored)."""

    collection_id: str
    item_id: str
    key: str
    store_key: str
    media_type: str | None
    document: dict[str, Any] = field(default_factory=dict)


@cache
def _assets_query() -> Select:
    """One statement: the collection's privacy and the item's assets (NULL if the item is
    missing); built once, as asset lookups run on every asset and tile request."""
    on = and_(Item.collection_id == Collection.id, Item.id == bindparam("item_id"))
    return (
        select(Collection.private, item_assets_json().label("assets"), Item.asset_order)
        .select_from(outerjoin(Collection, Item, on))
        .where(Collection.id == bindparam("collection_id"))
    )


def _check_readable(private: bool | None, principal: Principal, collection_id: str) -> None:
    # A private collection the caller may not read answers as a missing one: the caller
    # is not to learn that it exists.
    if private is None or (private and not principal.may_read_private(collection_id)):
        raise UnknownCollection(f"no collection {collection_id!r}")


async def locate_asset(
    session: AsyncSession,
    store: AssetStore,
    principal: Principal,
    collection_id: str,
    item_id: str,
    key: str | None,
) -> StoredAsset:
    """The stored object of asset ``key`` of an item, if ``principal`` may read it; with
    ``key`` None, the item's first stored raster (role ``visual``, then ``data``).

    Raises ``UnknownCollection`` (also for a private collection the caller may not read),
    ``ItemNotFound``, ``NotFound`` for a missing asset or one whose href is not in
    ``store`` (an external link, which clients fetch from where it points), and
    ``Unauthorized`` for a signed grant whose key was revoked.
    """
    values = {"collection_id": collection_id, "item_id": item_id}
    with translate_db_errors():
        row = (await session.execute(_assets_query(), values)).one_or_none()
    private = row.private if row else None
    _check_readable(private, principal, collection_id)
    if private and not await grant_is_current(session, principal):
        raise Unauthorized(f"the credential of the {principal.name} has been revoked")
    if row is None or row.assets is None:
        raise ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
    documents = dict(in_document_order(row.assets, row.asset_order))
    chosen = choose_asset(documents, store, key) if documents else None
    if chosen is None:
        raise _missing(item_id, collection_id, key)
    store_key = store.key_of(chosen[1]["href"])
    if store_key is None:
        raise NotFound(
            f"asset {chosen[0]!r} of item {item_id!r} is not stored by this catalog: "
            f"fetch it from its href {chosen[1]['href']}"
        )
    return StoredAsset(
        collection_id, item_id, chosen[0], store_key, chosen[1].get("type"), chosen[1]
    )


def choose_asset(
    assets: dict[str, Any], store: AssetStore, key: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The asset ``key`` of an item's ``assets`` (STAC asset objects, hrefs as stored), or
    with ``key`` None its first raster in ``store`` with the role ``visual``, else
    ``data``, else any; None when there is no such asset."""
    if key is not None:
        asset = assets.get(key)
        return (key, asset) if isinstance(asset, dict) and "href" in asset else None

    def is_raster(asset: Any) -> bool:
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            return False
        media = str(asset.get("type") or "").split(";")[0].strip()
        return media in RASTER_MEDIA_TYPES and store.key_of(asset["href"]) is not None

    rasters = [(k, a) for k, a in assets.items() if is_raster(a)]
    for role in RASTER_ROLES:
        for chosen in rasters:
            if role in (chosen[1].get("roles") or ()):
                return chosen
    return rasters[0] if rasters else None


def _missing(item_id: str, collection_id: str, key: str | None) -> NotFound:
    if key is None:
        return NotFound(f"item {item_id!r} of collection {collection_id!r} has no stored raster")
    return NotFound(f"item {item_id!r} of collection {collection_id!r} has no asset {key!r}")
