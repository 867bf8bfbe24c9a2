"""Finding the stored object behind an item's asset, under the catalog's access rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.access.principal import Principal
from catalog.access.signing import grant_is_current
from catalog.db.errors import translate_db_errors
from catalog.db.models import Asset, Collection, Item
from catalog.errors import ItemNotFound, NotFound, Unauthorized, UnknownCollection
from catalog.storage import AssetStore


@dataclass(frozen=True)
class StoredAsset:
    """An item's asset whose bytes are in our store at ``store_key``."""

    collection_id: str
    item_id: str
    key: str
    store_key: str
    media_type: str | None


async def _check_readable(
    session: AsyncSession, principal: Principal, collection_id: str
) -> None:
    query = select(Collection.private).where(Collection.id == collection_id)
    with translate_db_errors():
        private = (await session.execute(query)).scalar_one_or_none()
    # A private collection the caller may not read answers as a missing one: the caller
    # is not to learn that it exists.
    if private is None or (private and not principal.may_read_private(collection_id)):
        raise UnknownCollection(f"no collection {collection_id!r}")
    if private and not await grant_is_current(session, principal):
        raise Unauthorized(f"the credential of the {principal.name} has been revoked")


async def locate_asset(
    session: AsyncSession,
    store: AssetStore,
    principal: Principal,
    collection_id: str,
    item_id: str,
    key: str,
) -> StoredAsset:
    """The stored object of asset ``key`` of an item, if ``principal`` may read it.

    Raises ``UnknownCollection`` (also for a private collection the caller may not read),
    ``ItemNotFound``, ``NotFound`` for a missing asset or one whose href is not in
    ``store`` (an external link, which clients fetch from where it points), and
    ``Unauthorized`` for a signed grant whose key was revoked.
    """
    await _check_readable(session, principal, collection_id)
    query = select(Asset.href, Asset.media_type).where(
        Asset.collection_id == collection_id, Asset.item_id == item_id, Asset.key == key
    )
    with translate_db_errors():
        row = (await session.execute(query)).one_or_none()
    if row is None:
        raise await _missing(session, collection_id, item_id, key)
    store_key = store.key_of(row.href)
    if store_key is None:
        raise NotFound(
            f"asset {key!r} of item {item_id!r} is not stored by this catalog: "
            f"fetch it from its href {row.href}"
        )
    return StoredAsset(collection_id, item_id, key, store_key, row.media_type)


async def _missing(session: AsyncSession, collection_id: str, item_id: str, key: str) -> NotFound:
    query = select(Item.id).where(Item.collection_id == collection_id, Item.id == item_id)
    with translate_db_errors():
        exists = (await session.execute(query)).scalar_one_or_none() is not None
    if not exists:
        return ItemNotFound(f"no item {item_id!r} in collection {collection_id!r}")
    return NotFound(f"item {item_id!r} of collection {collection_id!r} has no asset {key!r}")
