"""``light_search_terms``: which search requests are built on the event loop and which
in a thread (a search area to repair, a long filter)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from catalog.search.request import (
    LIGHT_FILTER_TEXT,
    LIGHT_NODES,
    LIGHT_POSITIONS,
    light_search_terms,
)


def polygon(n: int) -> dict[str, Any]:
    """A closed ring of ``n`` + 1 positions (the first repeated)."""
    ring = [[round(math.cos(2 * math.pi * i / n), 6), round(math.sin(2 * math.pi * i / n), 6)]
            for i in range(n)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def spatial_filter(geometry: dict[str, Any]) -> dict[str, Any]:
    return {"op": "s_intersects", "args": [{"property": "geometry"}, geometry]}


def test_the_budgets_fit_the_peer_s_search_areas() -> None:
    """search_bench.py's intersects polygons have 7 positions, its filters a few nodes."""
    assert light_search_terms(polygon(6))
    assert light_search_terms(None, {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 10]})
    assert light_search_terms()


@pytest.mark.parametrize(
    ("intersects", "filter", "light"),
    [
        (polygon(LIGHT_POSITIONS - 1), None, True),
        (polygon(LIGHT_POSITIONS), None, False),
        # The area and the filter's geometries share one budget.
        (polygon(40), spatial_filter(polygon(40)), False),
        (None, spatial_filter(polygon(30)), True),
        (None, {"bbox": [1, 2, 3, 4]}, True),
        # A long list of numbers is not one position.
        (None, {"op": "in", "args": [{"property": "gsd"}, list(range(LIGHT_NODES))]}, False),
        (None, {"op": "in", "args": [{"property": "id"}, ["a"] * LIGHT_NODES]}, False),
        (None, "gsd < 1 AND " * ((LIGHT_FILTER_TEXT // 12) + 1) + "gsd > 0", False),
        (None, "gsd < 1", True),
    ],
)
def test_heavy_terms_go_to_a_thread(intersects: Any, filter: Any, light: bool) -> None:
    assert light_search_terms(intersects, filter) is light


def test_the_walk_stops_at_its_budget() -> None:
    """A million positions are not read to say the terms are heavy."""
    read = 0

    def positions() -> Any:
        nonlocal read
        for _ in range(1_000_000):
            read += 1
            yield [0.0, 0.0]

    class Lazy(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            return positions()

    huge = {"type": "MultiPoint", "coordinates": Lazy()}
    assert not light_search_terms(huge)
    assert read == LIGHT_POSITIONS + 1
