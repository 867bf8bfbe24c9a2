"""The asset endpoint: ``GET|HEAD /collections/{c}/items/{i}/assets/{key}``.

Every stored asset's public href points here (``catalog.assets.hrefs``). The caller is
the one of the request's headers, or the one a signed grant in ``?token=`` stands for.
Local files are sent with ``Range`` (single and multiple ranges, 416 past the end),
``ETag``/``Last-Modified`` and conditional requests; object stores answer with a 307 to
a presigned URL, or are streamed with single ranges when signing is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from typing import Annotated
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from starlette.datastructures import Headers
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from catalog.assets import (
    GRANT_PARAMETER,
    Delivery,
    FileDelivery,
    ObjectDelivery,
    RedirectDelivery,
)
from catalog.errors import InvalidInput
from catalog.operations import AssetOperations
from stac_compat.access import principal_of
from stac_compat.errors import error_body

ASSET_ROUTE = "/collections/{collection_id}/items/{item_id}/assets/{key:path}"
STREAM_CHUNK = 1024 * 1024


def create_asset_router(assets: AssetOperations, accel_redirect: str | None = None) -> APIRouter:
    """The router serving stored assets through ``assets``.

    With ``accel_redirect`` (the prefix of an nginx ``internal`` location aliasing the
    local store), files of the local store are not sent by the API: it answers with an
    ``X-Accel-Redirect`` header and nginx sends the bytes, ranges included.
    """
    router = APIRouter()

    @router.api_route(ASSET_ROUTE, methods=["GET", "HEAD"], name="Download an asset")
    async def get_asset(
        request: Request,
        collection_id: str,
        item_id: str,
        key: str,
        token: Annotated[str | None, Query(alias=GRANT_PARAMETER)] = None,
    ) -> Response:
        """An item's stored asset, if the caller (headers or signed grant) may read it."""
        caller = await assets.caller(principal_of(request), token)
        delivery = await assets.open(caller, collection_id, item_id, key)
        return delivery_response(request, delivery, accel_redirect)

    return router


def delivery_response(
    request: Request, delivery: Delivery, accel_redirect: str | None = None
) -> Response:
    """The response sending ``delivery``'s bytes (see the module docstring)."""
    if isinstance(delivery, RedirectDelivery):
        return RedirectResponse(
            delivery.url, status_code=307, headers={"cache-control": "no-store"}
        )
    validators = _validators(delivery)
    if _not_modified(request.headers, delivery):
        return Response(status_code=304, headers=validators)
    if isinstance(delivery, FileDelivery) and accel_redirect is not None:
        target = accel_redirect + quote(delivery.key)
        return Response(media_type=delivery.media_type,
                        headers={**validators, "x-accel-redirect": target})
    if isinstance(delivery, FileDelivery):
        return _FileResponse(
            delivery.path, media_type=delivery.media_type, headers=validators,
            stat_result=delivery.stat,
        )
    return _object_response(request, delivery, validators)


def _validators(delivery: FileDelivery | ObjectDelivery) -> dict[str, str]:
    return {
        "etag": delivery.etag,
        "last-modified": formatdate(delivery.modified, usegmt=True),
        "accept-ranges": "bytes",
    }


def _not_modified(headers: Headers, delivery: FileDelivery | ObjectDelivery) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or delivery.etag in tags
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return int(delivery.modified) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored, as the RFC says


class _FileResponse(FileResponse):
    """Starlette's file response, with its plain-text 400/416 bodies as STAC errors."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0

        async def json_errors(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                status = message["status"]
                keep = [(k, v) for k, v in message["headers"] if k == b"content-range"]
                body = _range_error(status)
                message = {**message, "headers": [
                    *keep, (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]}
            elif message["type"] == "http.response.body" and status:
                message = {**message, "body": _range_error(status)}
            await send(message)

        await super().__call__(scope, receive, json_errors)


def _range_error(status: int) -> bytes:
    if status == 416:
        body = error_body("RANGE_NOT_SATISFIABLE", "the range starts past the end of the asset")
    else:
        body = error_body("INVALID_RANGE", "the Range header is malformed")
    return orjson.dumps(body)


def parse_single_range(header: str, size: int) -> tuple[int, int]:
    """The (start, end-exclusive) of a one-range ``bytes=`` header over ``size`` bytes.

    ``InvalidInput`` for a malformed or multiple range; ``RangeNotSatisfiable`` when it
    starts past the end.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec or "-" not in spec:
        raise InvalidInput("only one 'bytes=start-end' range is served for this asset")
    first, _, last = (part.strip() for part in spec.partition("-"))
    try:
        if not first:  # a suffix: the last N bytes
            start, end = max(size - int(last), 0), size
        else:
            start = int(first)
            end = min(int(last) + 1, size) if last else size
    except ValueError as exc:
        raise InvalidInput(f"malformed Range header {header!r}") from exc
    if start < 0 or (end <= start and start < size):
        raise InvalidInput(f"malformed Range header {header!r}")
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


class RangeNotSatisfiable(InvalidInput):
    """A range starting past the end of the asset (HTTP 416)."""

    code = "RANGE_NOT_SATISFIABLE"

    def __init__(self, size: int) -> None:
        super().__init__(f"the range starts past the end of the asset ({size} bytes)")
        self.size = size


def _object_response(
    request: Request, delivery: ObjectDelivery, validators: dict[str, str]
) -> Response:
    header = request.headers.get("range")
    if_range = request.headers.get("if-range")
    head_only = request.method == "HEAD"
    if header is None or (if_range is not None and if_range != delivery.etag):
        headers = {**validators, "content-length": str(delivery.size)}
        if head_only:
            return Response(status_code=200, media_type=delivery.media_type, headers=headers)
        return StreamingResponse(
            delivery.store.open_stream(delivery.key), media_type=delivery.media_type,
            headers=headers,
        )
    try:
        start, end = parse_single_range(header, delivery.size)
    except RangeNotSatisfiable as exc:
        return Response(
            orjson.dumps(error_body(exc.code, exc.message)), status_code=416,
            media_type="application/json", headers={"content-range": f"bytes */{exc.size}"},
        )
    headers = {
        **validators, "content-length": str(end - start),
        "content-range": f"bytes {start}-{end - 1}/{delivery.size}",
    }
    if head_only:
        return Response(status_code=206, media_type=delivery.media_type, headers=headers)
    return StreamingResponse(
        _ranged(delivery, start, end), status_code=206, media_type=delivery.media_type,
        headers=headers,
    )


async def _ranged(delivery: ObjectDelivery, start: int, end: int) -> AsyncIterator[bytes]:
    for offset in range(start, end, STREAM_CHUNK):
        yield await delivery.store.read_range(
            delivery.key, offset, min(offset + STREAM_CHUNK, end)
        )
