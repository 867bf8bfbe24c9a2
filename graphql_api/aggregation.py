"""``aggregate(...)``: counts and histograms over the items a search matches."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import Private

from catalog.access import Principal
from catalog.operations import SearchOperations
from catalog.search import SearchRequest
from catalog.search.aggregate import AggregationSpec
from catalog.temporal import parse_rfc3339
from graphql_api.statements import STATEMENT


@strawberry.enum
class TimeInterval(Enum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@strawberry.type(description="How many matching items share a key.")
class Bucket:
    key: str
    count: int


@strawberry.type(description="How many matching items have a value in [from, to).")
class NumericBucket:
    start: float = strawberry.field(name="from")
    end: float = strawberry.field(name="to")
    count: int


@strawberry.type(description="Aggregations over the items matching the given filters.")
class Aggregation:
    _request: Private[SearchRequest]
    _searches: Private[SearchOperations]
    _principal: Private[Principal]

    async def _run(self, spec: AggregationSpec) -> dict[str, Any]:
        (result,) = await self._searches.aggregate(self._principal, self._request, spec)
        return result

    @strawberry.field(metadata=STATEMENT)
    async def total_count(self) -> int:
        return (await self._run(AggregationSpec(("total_count",))))["value"]

    @strawberry.field(metadata=STATEMENT)
    async def datetime_min(self) -> datetime | None:
        value = (await self._run(AggregationSpec(("datetime_min",))))["value"]
        return value and parse_rfc3339(value)

    @strawberry.field(metadata=STATEMENT)
    async def datetime_max(self) -> datetime | None:
        value = (await self._run(AggregationSpec(("datetime_max",))))["value"]
        return value and parse_rfc3339(value)

    @strawberry.field(description="Counts per collection, largest first.", metadata=STATEMENT)
    async def by_collection(self) -> list[Bucket]:
        result = await self._run(AggregationSpec(("collection_frequency",)))
        return [Bucket(key=b["key"], count=b["frequency"]) for b in result["buckets"]]

    @strawberry.field(
        description="Counts per day, month or year of the item datetime.",
        metadata=STATEMENT,
    )
    async def by_time(self, interval: TimeInterval = TimeInterval.MONTH) -> list[Bucket]:
        spec = AggregationSpec(("datetime_frequency",), datetime_interval=interval.value)
        result = await self._run(spec)
        return [Bucket(key=b["key"], count=b["frequency"]) for b in result["buckets"]]

    @strawberry.field(
        description="Counts per value of a property, largest first.",
        metadata=STATEMENT,
    )
    async def by_property(self, name: str) -> list[Bucket]:
        result = await self._run(AggregationSpec(("property_frequency",), property=name))
        return [Bucket(key=b["key"], count=b["frequency"]) for b in result["buckets"]]

    @strawberry.field(
        description="A histogram of a numeric property in equal-width buckets.",
        metadata=STATEMENT,
    )
    async def histogram(self, property: str, buckets: int = 10) -> list[NumericBucket]:
        spec = AggregationSpec(("property_histogram",), property=property, buckets=buckets)
        result = await self._run(spec)
        return [
            NumericBucket(start=b["from"], end=b["to"], count=b["frequency"])
            for b in result["buckets"]
        ]
