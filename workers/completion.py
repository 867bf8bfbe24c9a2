"""Completing an item registered without its raster metadata (STAC Transactions).

The rule, kept deliberately narrow: after an item is created, replaced or patched, one
extraction job is queued when the item has an asset that

* has the role ``data``,
* points into our asset store (its href is one the store hands out), under the item's
  collection's folder (``<collection id>/``: a file of another collection is not read
  for it), and
* carries no projection information, on the asset or in the item's properties
  (none of ``proj:code``, ``proj:epsg``, ``proj:wkt2``, ``proj:projjson``).

The first such asset in document order is the one read. The job extracts the raster
and merges the result into the item as stored when the job writes it: the stored
values win (properties, asset fields, links), except ``geometry`` and ``bbox``, which
become the footprint of the valid pixels; extracted fields the item lacks are added,
and so is the thumbnail. An item that carries projection fields is taken as complete,
so writing back an extracted item queues nothing. An asset with the role ``metadata``
in our store is sent as the provider metadata record (a NAIP FGDC file).
"""

from __future__ import annotations

from typing import Any

from rq import Queue
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.jobs import JobRecord
from catalog.storage import AssetStore
from workers.queue import CompleteItemRequest, enqueue_complete_item, in_collection

PROJECTION_FIELDS = ("proj:code", "proj:epsg", "proj:wkt2", "proj:projjson")
"""Any of these, on the item or the asset, marks its metadata as already there."""


def _roles(asset: Any) -> list[Any]:
    roles = asset.get("roles") if isinstance(asset, dict) else None
    return roles if isinstance(roles, list) else []


def _has_projection(fields: Any) -> bool:
    return isinstance(fields, dict) and any(name in fields for name in PROJECTION_FIELDS)


def _stored_key(store: AssetStore, asset: Any, collection_id: str) -> str | None:
    href = asset.get("href") if isinstance(asset, dict) else None
    key = store.key_of(href) if isinstance(href, str) else None
    return key if key is not None and in_collection(key, collection_id) else None


def completion_request(item: dict[str, Any], store: AssetStore) -> CompleteItemRequest | None:
    """The extraction the stored ``item`` asks for under the rule above, or None."""
    if _has_projection(item.get("properties")) or not isinstance(item.get("collection"), str):
        return None
    collection_id = item["collection"]
    assets = item.get("assets") if isinstance(item.get("assets"), dict) else {}
    target = next(
        (
            (name, key) for name, asset in assets.items()
            if "data" in _roles(asset) and not _has_projection(asset)
            and (key := _stored_key(store, asset, collection_id)) is not None
        ),
        None,
    )
    if target is None:
        return None
    metadata_key = next(
        (
            key for asset in assets.values()
            if "metadata" in _roles(asset)
            and (key := _stored_key(store, asset, collection_id)) is not None
        ),
        None,
    )
    properties = item.get("properties") or {}
    when = properties.get("datetime") or properties.get("start_datetime")
    return CompleteItemRequest(
        collection_id, item["id"], target[0], target[1],
        datetime=when if isinstance(when, str) else None, metadata_key=metadata_key,
    )


async def enqueue_item_completion(
    sessions: async_sessionmaker[AsyncSession],
    queue: Queue,
    store: AssetStore,
    item: dict[str, Any],
) -> JobRecord | None:
    """Queue the extraction a stored item asks for (see the module docstring); None
    when it asks for none. Raises ``QueueUnavailable`` when Redis refuses the job (its
    row is then marked failed)."""
    request = completion_request(item, store)
    if request is None:
        return None
    return await enqueue_complete_item(sessions, queue, request)


def merge_extracted(
    stored: dict[str, Any], extracted: dict[str, Any], asset_key: str, asset_href: str
) -> dict[str, Any]:
    """``stored`` completed with what extraction found (stored values win, except
    geometry and bbox). The extracted asset whose href is ``asset_href`` merges into
    ``stored["assets"][asset_key]``; the other extracted assets are added when their
    key is free."""
    extracted_assets = dict(extracted.get("assets") or {})
    data_name = next(
        (name for name, asset in extracted_assets.items() if asset.get("href") == asset_href),
        None,
    )
    data_asset = extracted_assets.pop(data_name, {}) if data_name else {}
    assets = {**extracted_assets, **stored.get("assets", {})}
    assets[asset_key] = {**data_asset, **stored.get("assets", {}).get(asset_key, {})}
    extensions = list(stored.get("stac_extensions") or [])
    extensions += [e for e in extracted.get("stac_extensions") or [] if e not in extensions]
    return {
        **stored,
        "geometry": extracted["geometry"],
        "bbox": extracted["bbox"],
        "properties": {**extracted.get("properties", {}), **stored.get("properties", {})},
        "assets": assets,
        "stac_extensions": extensions,
    }
