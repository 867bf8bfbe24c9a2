"""The Transaction extension: writes through ``catalog.ingest``, one transaction each.

After an item is created, replaced or patched, the optional ``after_item_write`` hook
receives the stored item, once its transaction is committed, and returns the ids of the
jobs it queued (stacql wires the workers' completion rule: an asset in our storage with
the role ``data`` and no projection fields gets its metadata extracted). Their ids are
sent in the ``Stacql-Jobs`` response header. A hook failure (the queue is down) does
not undo the write: it is logged, and the job's row records it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import attr
import orjson
from fastapi import Body, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.api.models import CollectionUri, GeoJSONResponse, ItemUri
from stac_fastapi.api.routes import create_async_endpoint
from stac_fastapi.extensions.transaction import (
    AsyncBaseTransactionsClient,
    TransactionExtension,
)
from stac_fastapi.types.requests import get_base_url
from stac_fastapi.types.search import APIRequest
from starlette.responses import Response

from catalog.access import require_write
from catalog.errors import CatalogError, InvalidInput
from catalog.ingest import create_collection, delete_collection, delete_item
from catalog.ingest.transactions import (
    create_item,
    insert_items,
    patch_collection,
    patch_item,
    replace_collection,
    replace_item,
)
from catalog.search.lookup import get_collection
from catalog.stac.links import with_collection_links, with_item_links
from stac_compat.access import principal_of
from stac_compat.write_access import OrjsonBodyRoute

log = logging.getLogger(__name__)

JOBS_HEADER = "Stacql-Jobs"
"""Response header listing the ids of the jobs a write queued (comma-separated)."""

ItemHook = Callable[[dict[str, Any]], Awaitable[list[str]]]


@attr.s
class ItemBody(CollectionUri):
    """POST /collections/{collection_id}/items: any JSON, validated by the catalog."""

    item: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class ItemReplaceBody(ItemUri):
    """PUT /collections/{collection_id}/items/{item_id}: any JSON object."""

    item: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class CollectionBody(APIRequest):
    """POST /collections: any JSON object."""

    collection: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class CollectionReplaceBody(CollectionUri):
    """PUT /collections/{collection_id}: any JSON object."""

    collection: Annotated[dict[str, Any], Body()] = attr.ib(default=None)


@attr.s
class CatalogTransactionExtension(TransactionExtension):
    """The Transaction extension with bodies checked by the catalog, not stac-pydantic:
    the spec allows partial documents (no ``links``), and our errors name the culprit."""

    def register(self, app: Any) -> None:
        """Register the routes, each decoding its body once (``OrjsonBodyRoute``)."""
        self.router.route_class = OrjsonBodyRoute
        super().register(app)

    def _route(self, name: str, path: str, method: str, status: int, fn: Any, model: Any) -> None:
        self.router.add_api_route(
            name=name,
            path=path,
            status_code=status,
            response_class=self.response_class,
            methods=[method],
            endpoint=create_async_endpoint(fn, model),
            dependencies=self.route_dependencies,
        )

    def register_create_item(self) -> None:
        """POST /collections/{collection_id}/items."""
        self._route("Create Item", "/collections/{collection_id}/items", "POST", 201,
                    self.client.create_item, ItemBody)

    def register_update_item(self) -> None:
        """PUT /collections/{collection_id}/items/{item_id}."""
        self._route("Update Item", "/collections/{collection_id}/items/{item_id}", "PUT", 200,
                    self.client.update_item, ItemReplaceBody)

    def register_create_collection(self) -> None:
        """POST /collections."""
        self._route("Create Collection", "/collections", "POST", 201,
                    self.client.create_collection, CollectionBody)

    def register_update_collection(self) -> None:
        """PUT /collections/{collection_id}."""
        self._route("Update Collection", "/collections/{collection_id}", "PUT", 200,
                    self.client.update_collection, CollectionReplaceBody)


def _updated(request: Request, document: dict[str, Any], jobs: list[str] | None = None) -> Any:
    """204 No Content, or the updated document when the client asked for it (RFC 7240);
    with the ids of queued jobs in the ``Stacql-Jobs`` header."""
    headers = {JOBS_HEADER: ", ".join(jobs)} if jobs else None
    if "return=representation" in request.headers.get("prefer", ""):
        if headers is None:
            return document
        return GeoJSONResponse(document, headers=headers)
    return Response(status_code=204, headers=headers)


async def _body(request: Request) -> Any:
    """The request's JSON exactly as sent (stac-pydantic would reformat values), decoded
    once by orjson for FastAPI and for us (``OrjsonBodyRoute``)."""
    try:
        return await request.json()
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not JSON: {exc}") from exc


@attr.s
class TransactionsClient(AsyncBaseTransactionsClient):
    """Create, replace, patch and delete collections and items."""

    sessions: async_sessionmaker[AsyncSession] = attr.ib(kw_only=True)
    after_item_write: ItemHook | None = attr.ib(default=None, kw_only=True)

    async def _after_write(self, item: dict[str, Any]) -> list[str]:
        """Run the hook on a committed item; its failure is logged, not raised."""
        if self.after_item_write is None:
            return []
        try:
            return await self.after_item_write(item)
        except CatalogError as exc:
            log.warning("item %s/%s is stored but its job was not queued: %s",
                        item.get("collection"), item.get("id"), exc)
            return []

    async def create_item(self, collection_id: str, item: Any, **kwargs: Any) -> Any:
        """Called with `POST /collections/{collection_id}/items` (an item or a collection
        of items, the latter inserted or replaced all at once)."""
        request: Request = kwargs["request"]
        require_write(principal_of(request), collection_id)
        doc = await _body(request)
        async with self.sessions() as session, session.begin():
            if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
                summary = await insert_items(session, collection_id, doc.get("features") or [])
                return Response(
                    orjson.dumps({"inserted": summary.inserted, "updated": summary.updated,
                                  "unchanged": summary.unchanged}),
                    status_code=201, media_type="application/json",
                )
            stored = await create_item(session, collection_id, doc)
        jobs = await self._after_write(stored)
        document = with_item_links(stored, get_base_url(request))
        if not jobs:
            return document
        return GeoJSONResponse(document, status_code=201, headers={JOBS_HEADER: ", ".join(jobs)})

    async def update_item(
        self, collection_id: str, item_id: str, item: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PUT /collections/{collection_id}/items/{item_id}`."""
        request: Request = kwargs["request"]
        require_write(principal_of(request), collection_id)
        doc = await _body(request)
        async with self.sessions() as session, session.begin():
            stored = await replace_item(session, collection_id, item_id, doc)
        jobs = await self._after_write(stored)
        return _updated(request, with_item_links(stored, get_base_url(request)), jobs)

    async def patch_item(
        self, collection_id: str, item_id: str, patch: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PATCH /collections/{collection_id}/items/{item_id}` (merge patch)."""
        request: Request = kwargs["request"]
        require_write(principal_of(request), collection_id)
        body = await _body(request)
        async with self.sessions() as session, session.begin():
            stored = await patch_item(session, collection_id, item_id, body)
        jobs = await self._after_write(stored)
        return _updated(request, with_item_links(stored, get_base_url(request)), jobs)

    async def delete_item(self, item_id: str, collection_id: str, **kwargs: Any) -> Response:
        """Called with `DELETE /collections/{collection_id}/items/{item_id}`."""
        require_write(principal_of(kwargs["request"]), collection_id)
        async with self.sessions() as session, session.begin():
            await get_collection(session, collection_id)
            await delete_item(session, collection_id, item_id)
        return Response(status_code=204)

    async def create_collection(self, collection: Any, **kwargs: Any) -> dict[str, Any]:
        """Called with `POST /collections`."""
        request: Request = kwargs["request"]
        doc = await _body(request)
        require_write(principal_of(request), str(doc.get("id")) if isinstance(doc, dict) else "")
        async with self.sessions() as session, session.begin():
            await create_collection(session, doc)
            stored = await get_collection(session, doc["id"])
        return with_collection_links(stored, get_base_url(request))

    async def update_collection(
        self, collection_id: str, collection: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PUT /collections/{collection_id}`."""
        request: Request = kwargs["request"]
        require_write(principal_of(request), collection_id)
        doc = await _body(request)
        async with self.sessions() as session, session.begin():
            stored = await replace_collection(session, collection_id, doc)
        return _updated(request, with_collection_links(stored, get_base_url(request)))

    async def patch_collection(
        self, collection_id: str, patch: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PATCH /collections/{collection_id}` (merge patch)."""
        request: Request = kwargs["request"]
        require_write(principal_of(request), collection_id)
        body = await _body(request)
        async with self.sessions() as session, session.begin():
            stored = await patch_collection(session, collection_id, body)
        return _updated(request, with_collection_links(stored, get_base_url(request)))

    async def delete_collection(self, collection_id: str, **kwargs: Any) -> Response:
        """Called with `DELETE /collections/{collection_id}`."""
        require_write(principal_of(kwargs["request"]), collection_id)
        async with self.sessions() as session, session.begin():
            await delete_collection(session, collection_id)
        return Response(status_code=204)
