"""Translation of stac-fastapi request values into ``catalog.search`` parameters."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from catalog.errors import InvalidInput
from stac_compat.fields import check_field_count, parse_fields


def geometry(value: Any) -> dict[str, Any] | None:
    """A GeoJSON geometry dict from a query-string string or a pydantic model."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput("intersects must be a GeoJSON geometry") from exc
    return value.model_dump(exclude_none=True)


def sortby(value: Any) -> Any:
    """GET gives ``["-datetime", "+id"]``; POST gives models or dicts with field/direction."""
    if not value:
        return None
    if all(isinstance(v, str) for v in value):
        return ",".join(value)
    return [v if isinstance(v, dict) else v.model_dump(mode="json") for v in value]


def fields(value: Any) -> tuple[set[str], set[str]]:
    """(include, exclude) from the GET list or the POST ``{include, exclude}`` object."""
    if value is None:
        return set(), set()
    if isinstance(value, list):
        return parse_fields(value)
    include = set(getattr(value, "include", None) or ())
    exclude = set(getattr(value, "exclude", None) or ())
    check_field_count(include, exclude)
    return include, exclude


def search_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """``build_search`` keyword arguments from a request model's values."""
    bbox = values.get("bbox")
    return {
        "collections": values.get("collections"),
        "ids": values.get("ids"),
        "bbox": list(bbox) if bbox else None,
        "intersects": geometry(values.get("intersects")),
        "datetime": values.get("datetime"),
        "filter": values.get("filter_expr"),
        "filter_lang": values.get("filter_lang"),
        "sortby": sortby(values.get("sortby")),
        "query": values.get("query"),
        "q": values.get("q"),
        "limit": values.get("limit"),
        "token": values.get("token"),
        "count": bool(values.get("count")),
    }


async def raw_search_values(request: Request) -> dict[str, Any]:
    """Search values straight from the query string (GET) or the JSON body (POST), for
    routes whose request models do not carry every search extension."""
    if request.method == "POST":
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidInput("the request body must be a JSON object")
        return {**body, "filter_expr": body.get("filter"), "filter_lang": body.get("filter-lang")}
    query = request.query_params
    lists = {name: query[name].split(",") for name in ("collections", "ids") if name in query}
    return {
        **{k: v for k, v in query.items() if k not in ("filter", "filter-lang")},
        **lists,
        "bbox": query["bbox"].split(",") if "bbox" in query else None,
        "filter_expr": query.get("filter"),
        "filter_lang": query.get("filter-lang"),
    }
