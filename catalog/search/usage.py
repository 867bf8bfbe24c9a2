"""Which item properties searches filter and sort by, counted to suggest indexes.

A search that sorts or range-filters by a property no index serves reads every match
(``catalog.search.property_indexes``). Operators declare indexes; these counts tell them
which: each search's properties are counted in memory (no statement per search), and the
counts are added to the ``property_usage`` table (migration 0025) by :meth:`flush`, which
the API process calls now and then and on shutdown. :func:`property_usage` reads them
back beside the declared indexes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.db.driver import Reader
from catalog.search.fields import CORE_FIELDS, canonical_name
from catalog.search.request import SearchRequest

EVERY_COLLECTION = "*"
"""The collection of the counts of searches over every collection."""
FILTER, SORT = "filters", "sorts"
MAX_KEYS = 10_000
"""Distinct (property, collection, use) counted between flushes: filters naming ever new
properties must not grow a process's memory without bound (the rest wait for a flush)."""


def filter_properties(node: Any) -> Iterator[str]:
    """The names of the properties a CQL2-JSON filter reads (``{"property": name}``)."""
    if isinstance(node, dict):
        name = node.get("property")
        if isinstance(name, str) and len(node) == 1:
            yield name
            return
        for value in node.values():
            yield from filter_properties(value)
    elif isinstance(node, list):
        for value in node:
            yield from filter_properties(value)


class PropertyUsage:
    """Counts of searches by property, collection and use, since the last flush."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def note(self, request: SearchRequest) -> None:
        """Count the properties ``request`` filters and sorts by (core fields, which
        have their own indexes, are left out); a later page of a search counts again."""
        uses = [(name, FILTER) for name in set(filter_properties(request.filter))]
        uses += [(key.field, SORT) for key in request.sortby]
        if not uses:
            return
        collections = request.collections or (EVERY_COLLECTION,)
        for field, use in uses:
            name = canonical_name(field)
            if name in CORE_FIELDS:
                continue
            for collection in collections:
                key = (name, collection, use)
                if key in self._counts or len(self._counts) < MAX_KEYS:
                    self._counts[key] += 1

    def pending(self) -> int:
        """How many counts wait for the next flush."""
        return sum(self._counts.values())

    async def flush(self, session: AsyncSession) -> int:
        """Add the counts to ``property_usage`` and start again from zero; the number of
        searches' uses written. Counts that fail to be written are kept for the next."""
        counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        rows = [
            {"property": name, "collection": collection,
             "filters": n if use == FILTER else 0, "sorts": n if use == SORT else 0}
            for (name, collection, use), n in counts.items()
        ]
        try:
            await session.execute(_ADD, rows)
            await session.commit()
        except BaseException:
            self._counts.update(counts)
            raise
        return sum(counts.values())


_ADD = text(
    "INSERT INTO property_usage AS u (property, collection_id, filters, sorts) "
    "VALUES (:property, :collection, :filters, :sorts) "
    "ON CONFLICT (property, collection_id) DO UPDATE SET "
    "filters = u.filters + excluded.filters, sorts = u.sorts + excluded.sorts, "
    "last_used = now()"
)


@dataclass(frozen=True)
class Usage:
    """A property's (``name``) uses in searches of a collection (``*``: of every collection), and
    whether a declared index serves them (one of that collection or catalog-wide)."""

    name: str
    collection_id: str
    filters: int
    sorts: int
    last_used: datetime
    indexed: bool

    @property
    def uses(self) -> int:
        """Filters and sorts together."""
        return self.filters + self.sorts


async def property_usage(session: Reader) -> list[Usage]:
    """Every counted property and collection, most used first."""
    rows = await session.execute(text(
        "SELECT u.property, u.collection_id, u.filters, u.sorts, u.last_used, "
        "EXISTS (SELECT 1 FROM property_indexes d WHERE d.property = u.property "
        "AND (d.collection_id IS NULL OR d.collection_id = u.collection_id)) AS indexed "
        "FROM property_usage u "
        "ORDER BY u.filters + u.sorts DESC, u.property, u.collection_id"
    ))
    return [Usage(*row) for row in rows.all()]
