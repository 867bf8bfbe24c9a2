"""Responses serialized once with orjson.

An endpoint that returns a dict makes FastAPI walk it with ``jsonable_encoder`` and then
``json.dumps`` it: for a page of STAC items that costs more CPU than the database query.
Our documents are plain JSON values already (decoded from JSONB), so one ``orjson.dumps``
into a ready ``Response`` is enough.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from catalog.stac.links import GEOJSON, JSON


def json_response(document: Any, media_type: str = JSON, status_code: int = 200) -> Response:
    """``document`` as a JSON response (``application/json`` unless told otherwise)."""
    return Response(orjson.dumps(document), status_code=status_code, media_type=media_type)


def geojson_response(document: Any) -> Response:
    """``document`` (an item or item collection) as ``application/geo+json``."""
    return json_response(document, GEOJSON)
