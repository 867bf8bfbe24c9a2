"""Exports over REST: a search's items as a stac-geoparquet or ndjson file.

- ``POST /exports`` with ``{"search": <STAC search body>, "format": "geoparquet"}``
  (or ``"ndjson"``) queues the export and answers 202 with the export document and a
  ``Location`` header;
- ``GET /exports`` lists the caller's exports, newest first;
- ``GET /exports/{id}`` is one export: status, progress, item count, size, and once
  finished an ``enclosure`` link to the file and when it ``expires``;
- ``GET|HEAD /exports/{id}/file`` sends the file, as assets are sent (ranges,
  validators, presigned redirects), to the caller of the headers or of ``?token=``;
  410 ``EXPORT_EXPIRED`` once the file is past its expiry (``expired: true``).

The rules (who may start, see and download an export) are
``catalog.operations.ExportOperations``'.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from stac_fastapi.types.requests import get_base_url
from starlette.responses import Response

from catalog.access import Principal
from catalog.assets import GRANT_PARAMETER
from catalog.errors import InvalidInput
from catalog.export import is_expired
from catalog.jobs import JobRecord
from catalog.operations import AssetOperations, ExportOperations
from catalog.temporal import format_rfc3339
from stac_compat.access import principal_of
from stac_compat.assets import delivery_response

EXPORTS_ROUTE = "/exports"


def export_document(job: JobRecord, base_url: str, grant: str | None) -> dict[str, Any]:
    """An export job as the REST API shows it."""
    result = job.result or {}
    href = f"{base_url}exports/{job.id}"
    links = [{"rel": "self", "href": href, "type": "application/json"}]
    expired = is_expired(job)
    if job.status == "finished" and result.get("key") and not expired:
        file_href = f"{href}/file" + (f"?{GRANT_PARAMETER}={grant}" if grant else "")
        links.append({
            "rel": "enclosure", "href": file_href, "type": result.get("media_type"),
            "length": result.get("bytes"),
        })
    return {
        "id": str(job.id), "status": job.status, "progress": job.progress,
        "message": job.message, "error": job.error,
        "format": job.params.get("format"), "search": job.params.get("search"),
        "items": result.get("items"), "bytes": result.get("bytes"),
        "collections": result.get("collections"),
        "created": format_rfc3339(job.created_at), "updated": format_rfc3339(job.updated_at),
        "expires": format_rfc3339(job.expires_at) if job.expires_at else None,
        "expired": expired,
        "links": links,
    }


def create_export_router(
    exports: ExportOperations, assets: AssetOperations, accel_redirect: str | None = None
) -> APIRouter:
    """The router of ``/exports`` on ``exports``; ``assets`` signs download grants."""
    router = APIRouter(tags=["Exports"])

    async def grant_of(principal: Principal) -> str | None:
        if principal.is_anonymous:
            return None
        return (await assets.urls("", principal)).grant

    @router.post(EXPORTS_ROUTE, status_code=202, name="Start an export")
    async def start_export(
        request: Request, body: Annotated[dict[str, Any], Body()]
    ) -> JSONResponse:
        """Queue the export of a search's items to a file."""
        unknown = sorted(set(body) - {"search", "format"})
        if unknown:
            raise InvalidInput(f"unknown members: {', '.join(unknown)}; give search and format")
        principal = principal_of(request)
        base = get_base_url(request)
        job = await exports.start(principal, body.get("search") or {}, body.get("format"), base)
        document = export_document(job, base, None)
        return JSONResponse(
            document, status_code=202, headers={"location": document["links"][0]["href"]}
        )

    @router.get(EXPORTS_ROUTE, name="List your exports")
    async def list_exports(request: Request) -> dict[str, Any]:
        """The caller's exports, newest first."""
        principal = principal_of(request)
        grant, base = await grant_of(principal), get_base_url(request)
        jobs = await exports.list(principal)
        return {"exports": [export_document(job, base, grant) for job in jobs]}

    @router.get(EXPORTS_ROUTE + "/{export_id}", name="Follow an export")
    async def get_export(request: Request, export_id: str) -> dict[str, Any]:
        """One export: its status, progress and, once finished, its file's link."""
        principal = principal_of(request)
        job = await exports.job(principal, export_id)
        return export_document(job, get_base_url(request), await grant_of(principal))

    @router.api_route(
        EXPORTS_ROUTE + "/{export_id}/file", methods=["GET", "HEAD"], name="Download an export"
    )
    async def get_export_file(
        request: Request,
        export_id: str,
        token: Annotated[str | None, Query(alias=GRANT_PARAMETER)] = None,
    ) -> Response:
        """The export's file, if the caller (headers or signed grant) may read it."""
        caller = await assets.caller(principal_of(request), token)
        delivery = await exports.open(caller, export_id)
        return delivery_response(request, delivery, accel_redirect)

    return router
