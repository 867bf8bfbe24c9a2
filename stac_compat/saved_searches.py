"""Saved searches over REST, private to the caller's API key or bearer-token subject.

``POST /saved-searches`` (``name``, ``search``: a STAC search body, optional
``webhook_url``), ``GET /saved-searches``, ``GET|PATCH|DELETE /saved-searches/{id}``,
``GET /saved-searches/{id}/deliveries`` (the webhook's delivery log, newest first) and
``GET /saved-searches/{id}/feed`` (an Atom feed of its latest matching items).
"""

# No ``from __future__ import annotations``: FastAPI reads the route annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from catalog.errors import InvalidSavedSearch
from catalog.operations import SavedSearchOperations
from catalog.saved import (
    ATOM_MEDIA_TYPE,
    NoticeRecord,
    SavedSearchChanges,
    SavedSearchInput,
    SavedSearchRecord,
    atom_feed,
)
from stac_compat.access import principal_of
from stac_compat.responses import json_response

PATH = "/saved-searches"
FIELDS = frozenset({"name", "search", "webhook_url"})


def _document(request: Request, record: SavedSearchRecord) -> dict[str, Any]:
    base = f"{request.base_url}{PATH.lstrip('/')}/{record.id}"
    webhook = (
        {"url": record.webhook_url, "secret": record.secret} if record.webhook_url else None
    )
    return {
        "id": str(record.id),
        "name": record.name,
        "search": record.search,
        "webhook": webhook,
        "created": record.created_at.isoformat(),
        "updated": record.updated_at.isoformat(),
        "links": [
            {"rel": "self", "type": "application/json", "href": base},
            {"rel": "alternate", "type": ATOM_MEDIA_TYPE, "href": f"{base}/feed"},
            {"rel": "deliveries", "type": "application/json", "href": f"{base}/deliveries"},
        ],
    }


def _notice(notice: NoticeRecord) -> dict[str, Any]:
    return {
        "id": notice.id,
        "event": notice.event,
        "status": notice.status,
        "attempts": notice.attempts,
        "items": notice.items,
        "created": notice.created_at.isoformat(),
        "next_attempt": notice.next_attempt_at.isoformat() if notice.status == "pending" else None,
        "delivered": notice.delivered_at.isoformat() if notice.delivered_at else None,
        "last_status": notice.last_status,
        "last_error": notice.last_error,
    }


def _members(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidSavedSearch("the body must be a JSON object")
    unknown = set(body) - FIELDS
    if unknown:
        raise InvalidSavedSearch(
            f"a saved search has {', '.join(sorted(FIELDS))}; not {sorted(unknown)[0][:40]!r}"
        )
    return body


def create_saved_search_router(operations: SavedSearchOperations) -> APIRouter:
    """The router of ``/saved-searches``."""
    router = APIRouter(tags=["Saved searches"])

    @router.post(PATH, status_code=201, name="Save a search")
    async def create(request: Request, body: Annotated[Any, Body()]) -> Response:
        members = _members(body)
        record = await operations.create(principal_of(request), SavedSearchInput(
            members.get("name"), members.get("search"), members.get("webhook_url"),
        ))
        return json_response(_document(request, record), status_code=201)

    @router.get(PATH, name="The caller's saved searches")
    async def list_all(request: Request) -> Response:
        records = await operations.list(principal_of(request))
        return json_response({
            "saved_searches": [_document(request, record) for record in records],
            "links": [{"rel": "self", "href": f"{request.base_url}{PATH.lstrip('/')}"}],
        })

    @router.get(PATH + "/{search_id}", name="A saved search")
    async def get(request: Request, search_id: str) -> Response:
        record = await operations.get(principal_of(request), search_id)
        return json_response(_document(request, record))

    @router.patch(PATH + "/{search_id}", name="Change a saved search")
    async def change(request: Request, search_id: str, body: Annotated[Any, Body()]) -> Response:
        members = _members(body)
        remove = "webhook_url" in members and members["webhook_url"] is None
        changes = SavedSearchChanges(
            members.get("name"), members.get("search"), members.get("webhook_url"), remove
        )
        record = await operations.update(principal_of(request), search_id, changes)
        return json_response(_document(request, record))

    @router.delete(PATH + "/{search_id}", status_code=204, name="Delete a saved search")
    async def delete(request: Request, search_id: str) -> Response:
        await operations.delete(principal_of(request), search_id)
        return Response(status_code=204)

    @router.get(PATH + "/{search_id}/deliveries", name="A saved search's delivery log")
    async def deliveries(
        request: Request, search_id: str,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        notices = await operations.deliveries(principal_of(request), search_id, limit, before)
        return json_response({"deliveries": [_notice(notice) for notice in notices]})

    @router.get(PATH + "/{search_id}/feed", name="A saved search's Atom feed")
    async def feed(request: Request, search_id: str) -> Response:
        record, rows = await operations.latest(principal_of(request), search_id)
        base = str(request.base_url)
        document = atom_feed(
            record, rows, f"{base}{PATH.lstrip('/')}/{record.id}/feed",
            f"{base}collections",
        )
        return Response(document, media_type=ATOM_MEDIA_TYPE)

    return router
