"""The Aggregation extension: /aggregations lists, /aggregate computes."""

from __future__ import annotations

import asyncio
from typing import Any

import attr
from fastapi import Request
from stac_fastapi.extensions.aggregation.client import AsyncBaseAggregationClient
from stac_fastapi.types.requests import get_base_url

from catalog.errors import InvalidInput
from catalog.operations import CollectionOperations, SearchOperations
from catalog.search import build_search
from catalog.search.aggregate import AVAILABLE, AggregationSpec
from stac_compat import params
from stac_compat.access import principal_of

DEFAULT_AGGREGATIONS = ("total_count",)


def _links(request: Request, name: str) -> list[dict[str, Any]]:
    base = get_base_url(request)
    return [
        {"rel": "root", "type": "application/json", "href": base},
        {"rel": "self", "type": "application/json", "href": str(request.url)},
    ]


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return DEFAULT_AGGREGATIONS
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v.strip())


def _int(values: dict[str, Any], name: str, default: int) -> int:
    value = values.get(name, default)
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be an integer, not {value!r}") from exc


def _spec(values: dict[str, Any]) -> AggregationSpec:
    """The aggregations asked for, from the query string (GET) or the body (POST)."""
    return AggregationSpec(
        names=_names(values.get("aggregations")),
        datetime_interval=values.get("datetime_interval", "month"),
        property=values.get("property"),
        buckets=_int(values, "buckets", 10),
        geohash_precision=_int(values, "precision", 1),
    )


@attr.s
class AggregationClient(AsyncBaseAggregationClient):
    """Aggregations over the items a search matches.

    stac-fastapi calls these with the parsed request as keywords (GET) or as the first
    argument (POST), and passes the path's collection id only to some routes, so both
    methods read their values from the request itself (``params.raw_search_values``)
    and the collection id from the path.
    """

    searches: SearchOperations = attr.ib(kw_only=True)
    collections: CollectionOperations = attr.ib(kw_only=True)

    async def get_aggregations(self, *_: Any, **kwargs: Any) -> dict:
        """Called with `GET|POST /aggregations` (or per collection)."""
        request: Request = kwargs["request"]
        collection_id = request.path_params.get("collection_id")
        if collection_id is not None:
            await self.collections.get(principal_of(request), collection_id)
        return {
            "type": "AggregationCollection",
            "aggregations": [{"name": n, "data_type": t} for n, t in AVAILABLE.items()],
            "links": _links(request, "aggregations"),
        }

    async def aggregate(self, *_: Any, **kwargs: Any) -> dict:
        """Called with `GET|POST /aggregate` (or per collection): the search parameters,
        plus ``aggregations``, ``datetime_interval``, ``property``, ``buckets`` and
        ``precision`` for the histogram kinds, as query parameters or body members."""
        request: Request = kwargs["request"]
        collection_id = request.path_params.get("collection_id")
        values = await params.raw_search_values(request)
        spec = _spec(values)
        search_values = dict(values)
        if collection_id is not None:
            search_values["collections"] = [collection_id]
        search_values["limit"] = None
        principal = principal_of(request)
        request_model = await asyncio.to_thread(
            build_search, **params.search_kwargs(search_values)
        )
        if collection_id is not None:
            await self.collections.get(principal, collection_id)
        results = await self.searches.aggregate(principal, request_model, spec)
        return {
            "type": "AggregationCollection",
            "aggregations": results,
            "links": _links(request, "aggregate"),
        }
