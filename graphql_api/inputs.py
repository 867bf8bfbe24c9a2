"""Input types of the item and asset searches, and their translation to ``catalog.search``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry

from catalog.errors import InvalidInput
from catalog.search import SortField, parse_filter
from catalog.temporal import Interval, typed_interval
from graphql_api.scalars import JSON

BboxArg = Annotated[
    list[float] | None,
    strawberry.argument(description="[west, south, east, north], or 6 numbers with heights."),
]
FilterArg = Annotated[
    JSON | None,
    strawberry.argument(description="A CQL2 filter: a CQL2-JSON object, or CQL2 text."),
]
TextArg = Annotated[str | None, strawberry.argument(description="Free-text terms.")]


@strawberry.input(description="A time range; a missing end is open. Both missing: any time.")
class DatetimeRange:
    start: datetime | None = None
    end: datetime | None = None

    def as_interval(self) -> Interval | None:
        """The interval in UTC, or None for an unbounded range; ``InvalidInput`` for a
        bound without a time zone, ``InvalidDatetime`` for a start after the end."""
        return typed_interval(self.start, self.end)


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(description="One sort key: a core field (datetime, id...) or a property.")
class SortBy:
    field: str
    direction: SortDirection = SortDirection.ASC


@strawberry.input(
    description="A typed condition on one item property (or core field); all given "
    "operators must hold."
)
class PropertyCondition:
    property: str
    eq: JSON | None = strawberry.UNSET
    neq: JSON | None = strawberry.UNSET
    lt: JSON | None = strawberry.UNSET
    lte: JSON | None = strawberry.UNSET
    gt: JSON | None = strawberry.UNSET
    gte: JSON | None = strawberry.UNSET
    in_: list[JSON] | None = strawberry.field(name="in", default=strawberry.UNSET)
    like: str | None = strawberry.UNSET
    is_null: bool | None = strawberry.UNSET

    def as_cql2(self) -> list[dict[str, Any]]:
        """The CQL2-JSON conditions this input stands for."""
        prop = {"property": self.property}
        operators = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        conditions: list[dict[str, Any]] = [
            {"op": op, "args": [prop, getattr(self, name)]}
            for name, op in operators.items()
            if getattr(self, name) not in (strawberry.UNSET, None)
        ]
        if self.in_ not in (strawberry.UNSET, None):
            conditions.append({"op": "in", "args": [prop, list(self.in_)]})
        if self.like not in (strawberry.UNSET, None):
            conditions.append({"op": "like", "args": [prop, self.like]})
        if self.is_null is True:
            conditions.append({"op": "isNull", "args": [prop]})
        elif self.is_null is False:
            conditions.append({"op": "not", "args": [{"op": "isNull", "args": [prop]}]})
        if not conditions:
            raise InvalidInput(f"the condition on {self.property!r} has no operator")
        return conditions


def combined_filter(
    filter: dict[str, Any] | str | None, where: list[PropertyCondition] | None
) -> dict[str, Any] | None:
    """``filter`` (CQL2 JSON or text) AND every ``where`` condition, as one CQL2-JSON tree.

    Raises ``InvalidInput`` for a filter that is neither, or does not parse.
    """
    if filter is not None and not isinstance(filter, dict | str):
        raise InvalidInput("filter must be a CQL2-JSON object or CQL2 text")
    parts = [parse_filter(filter)] if filter else []
    for condition in where or ():
        parts.extend(condition.as_cql2())
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}


def sortby_of(sort_by: list[SortBy] | None) -> tuple[SortField, ...]:
    """The catalog's sort keys of the GraphQL ones."""
    return tuple(SortField(s.field, s.direction.value) for s in sort_by or ())
