"""The Transaction extension: writes through ``catalog.operations``, one transaction each.

The operations run the post-write hooks stacql injects (``catalog.operations.hooks``);
the ids of the jobs a write queued are sent in the ``Stacql-Jobs`` response header.
"""

from __future__ import annotations

from typing import Annotated, Any

import attr
import orjson
from fastapi import Body, Request
from stac_fastapi.api.models import CollectionUri, GeoJSONResponse, ItemUri
from stac_fastapi.api.routes import create_async_endpoint
from stac_fastapi.extensions.transaction import (
    AsyncBaseTransactionsClient,
    TransactionExtension,
)
from stac_fastapi.types.requests import get_base_url
from stac_fastapi.types.search import APIRequest
from starlette.responses import Response

from catalog.errors import InvalidInput
from catalog.operations import CollectionOperations, ItemOperations, ItemWritten
from catalog.stac.links import with_collection_links, with_item_links
from stac_compat.access import principal_of
from stac_compat.write_access import OrjsonBodyRoute

JOBS_HEADER = "Stacql-Jobs"
"""Response header listing the ids of the jobs a write queued (comma-separated)."""


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


def _created(request: Request, written: ItemWritten) -> Any:
    document = with_item_links(written.item, get_base_url(request))
    if not written.jobs:
        return document
    return GeoJSONResponse(
        document, status_code=201, headers={JOBS_HEADER: ", ".join(written.jobs)}
    )


@attr.s
class TransactionsClient(AsyncBaseTransactionsClient):
    """Create, replace, patch and delete collections and items: each route parses its
    body, calls ``catalog.operations`` with the caller, and renders the result."""

    items: ItemOperations = attr.ib(kw_only=True)
    collections: CollectionOperations = attr.ib(kw_only=True)

    async def create_item(self, collection_id: str, item: Any, **kwargs: Any) -> Any:
        """Called with `POST /collections/{collection_id}/items` (an item or a collection
        of items, the latter inserted or replaced all at once)."""
        request: Request = kwargs["request"]
        principal = principal_of(request)
        doc = await _body(request)
        if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
            many = await self.items.insert(principal, collection_id, doc.get("features") or [])
            summary = many.summary
            return Response(
                orjson.dumps({"inserted": summary.inserted, "updated": summary.updated,
                              "unchanged": summary.unchanged}),
                status_code=201, media_type="application/json",
                headers={JOBS_HEADER: ", ".join(many.jobs)} if many.jobs else None,
            )
        return _created(request, await self.items.create(principal, collection_id, doc))

    async def update_item(
        self, collection_id: str, item_id: str, item: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PUT /collections/{collection_id}/items/{item_id}`."""
        request: Request = kwargs["request"]
        principal = principal_of(request)
        doc = await _body(request)
        written = await self.items.replace(principal, collection_id, item_id, doc)
        document = with_item_links(written.item, get_base_url(request))
        return _updated(request, document, written.jobs)

    async def patch_item(
        self, collection_id: str, item_id: str, patch: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PATCH /collections/{collection_id}/items/{item_id}` (merge patch)."""
        request: Request = kwargs["request"]
        principal = principal_of(request)
        body = await _body(request)
        written = await self.items.patch(principal, collection_id, item_id, body)
        document = with_item_links(written.item, get_base_url(request))
        return _updated(request, document, written.jobs)

    async def delete_item(self, item_id: str, collection_id: str, **kwargs: Any) -> Response:
        """Called with `DELETE /collections/{collection_id}/items/{item_id}`."""
        await self.items.delete(principal_of(kwargs["request"]), collection_id, item_id)
        return Response(status_code=204)

    async def create_collection(self, collection: Any, **kwargs: Any) -> dict[str, Any]:
        """Called with `POST /collections`."""
        request: Request = kwargs["request"]
        doc = await _body(request)
        stored = await self.collections.create(principal_of(request), doc)
        return with_collection_links(stored, get_base_url(request))

    async def update_collection(
        self, collection_id: str, collection: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PUT /collections/{collection_id}`."""
        request: Request = kwargs["request"]
        principal = principal_of(request)
        doc = await _body(request)
        stored = await self.collections.replace(principal, collection_id, doc)
        return _updated(request, with_collection_links(stored, get_base_url(request)))

    async def patch_collection(
        self, collection_id: str, patch: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """Called with `PATCH /collections/{collection_id}` (merge patch)."""
        request: Request = kwargs["request"]
        principal = principal_of(request)
        body = await _body(request)
        stored = await self.collections.patch(principal, collection_id, body)
        return _updated(request, with_collection_links(stored, get_base_url(request)))

    async def delete_collection(self, collection_id: str, **kwargs: Any) -> Response:
        """Called with `DELETE /collections/{collection_id}`."""
        await self.collections.delete(principal_of(kwargs["request"]), collection_id)
        return Response(status_code=204)
