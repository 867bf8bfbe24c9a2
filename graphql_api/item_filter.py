"""One ``ItemFilter`` input for every item search of the schema (``items``,
``Collection.items``, ``aggregate``, ``itemsAdded``, ``exportItems``, saved searches),
and the one conversion of it to the operations' typed ``ItemSearch``.

The flat arguments those fields took before (``collections``, ``bbox``, ``where``...)
still work, deprecated: they are folded into the same ``ItemFilter`` first, and a field
given both flat and in ``match`` is refused rather than one silently winning.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

import strawberry

from catalog.errors import InvalidInput
from catalog.operations import ItemSearch
from graphql_api.inputs import (
    DatetimeRange,
    PropertyCondition,
    SortBy,
    combined_filter,
    sortby_of,
)
from graphql_api.scalars import JSON, GeoJSON

DEPRECATED = "Give it in `match: ItemFilter` instead."


@strawberry.input(description="Which items: every given condition must hold.")
class ItemFilter:
    collections: list[str] | None = None
    ids: list[str] | None = None
    bbox: list[float] | None = strawberry.field(
        default=None, description="[west, south, east, north], or 6 numbers with heights."
    )
    intersects: GeoJSON | None = None
    datetime: DatetimeRange | None = None
    filter: JSON | None = strawberry.field(
        default=None, description="A CQL2 filter: a CQL2-JSON object, or CQL2 text."
    )
    where: list[PropertyCondition] | None = None
    q: str | None = strawberry.field(default=None, description="Free-text terms.")


FILTER_FIELDS = tuple(f.name for f in fields(ItemFilter))  # type: ignore[arg-type]

MatchArg = Annotated[
    ItemFilter | None,
    strawberry.argument(description="Which items; the one way to filter an item search."),
]
# The old flat arguments, kept for existing clients.
OldList = Annotated[list[str] | None, strawberry.argument(deprecation_reason=DEPRECATED)]
OldBbox = Annotated[list[float] | None, strawberry.argument(deprecation_reason=DEPRECATED)]
OldGeometry = Annotated[GeoJSON | None, strawberry.argument(deprecation_reason=DEPRECATED)]
OldDatetime = Annotated[
    DatetimeRange | None, strawberry.argument(deprecation_reason=DEPRECATED)
]
OldFilter = Annotated[JSON | None, strawberry.argument(deprecation_reason=DEPRECATED)]
OldWhere = Annotated[
    list[PropertyCondition] | None, strawberry.argument(deprecation_reason=DEPRECATED)
]
OldText = Annotated[str | None, strawberry.argument(deprecation_reason=DEPRECATED)]


def merged(match: ItemFilter | None, **flat: Any) -> ItemFilter:
    """``match`` with the deprecated flat arguments folded in; ``InvalidInput``
    (BAD_USER_INPUT) when a field is given both ways."""
    given = {name: value for name, value in flat.items() if value is not None}
    if match is None:
        return ItemFilter(**given)
    both = sorted(name for name in given if getattr(match, name) is not None)
    if both:
        raise InvalidInput(
            f"give {', '.join(both)} in `match` or as an argument, not both"
        )
    values = {name: getattr(match, name) for name in FILTER_FIELDS}
    return ItemFilter(**{**values, **given})


def item_search(
    match: ItemFilter,
    sort_by: list[SortBy] | None = None,
    limit: int | None = None,
    token: str | None = None,
) -> ItemSearch:
    """The typed search ``match`` stands for: the one GraphQL-to-operations conversion."""
    if match.filter is not None and not isinstance(match.filter, dict | str):
        raise InvalidInput("filter must be a CQL2-JSON object or CQL2 text")
    return ItemSearch(
        ids=match.ids, collections=match.collections, bbox=match.bbox,
        intersects=match.intersects,
        datetime=match.datetime.as_interval() if match.datetime else None,
        filter=combined_filter(match.filter, match.where), sortby=sortby_of(sort_by),
        limit=limit, token=token, q=match.q,
    )


def stac_body(terms: ItemSearch) -> dict[str, Any]:
    """The STAC search body of ``terms``, for what keeps a search as a body (exports,
    saved searches)."""
    body: dict[str, Any] = {
        "collections": terms.collections, "ids": terms.ids, "bbox": terms.bbox,
        "intersects": terms.intersects, "datetime": terms.datetime,
        "filter": terms.filter, "q": terms.q,
        "sortby": tuple(terms.sortby) or None,
    }
    if body["filter"] is not None:
        body["filter-lang"] = "cql2-json"
    return {name: value for name, value in body.items() if value is not None}
