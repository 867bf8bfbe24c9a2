"""Hostile inputs found by probing the running service (issue 16), built on demand.

Each builder returns plain JSON-like values, so the same case can be sent to the
catalog directly, to the STAC API and to the GraphQL API.
"""

from __future__ import annotations

import math
import random
from typing import Any


def closed(points: list[list[float]]) -> list[list[float]]:
    """A ring: the points and the first one again."""
    return [*points, points[0]]


def star_polygon(
    vertices: int, radius: float = 1.0, center: tuple[float, float] = (0.0, 0.0)
) -> dict[str, Any]:
    """A star polygon {n/k} with k close to n/2: each edge crosses nearly every other, the
    most crossings a ring of that many vertices can have (an odd ``vertices`` is best)."""
    step = vertices // 2
    points = [
        [center[0] + radius * math.cos(2 * math.pi * (i * step % vertices) / vertices),
         center[1] + radius * math.sin(2 * math.pi * (i * step % vertices) / vertices)]
        for i in range(vertices)
    ]
    return {"type": "Polygon", "coordinates": [closed(points)]}


def random_polygon(vertices: int, seed: int = 16, half_width: float = 10.0) -> dict[str, Any]:
    """A ring through random points: self-intersecting almost surely."""
    chance = random.Random(seed)
    points = [[chance.uniform(-half_width, half_width), chance.uniform(-half_width, half_width)]
              for _ in range(vertices)]
    return {"type": "Polygon", "coordinates": [closed(points)]}


def circle(vertices: int, radius: float = 1.0) -> dict[str, Any]:
    """A valid polygon of ``vertices`` positions around (0, 0)."""
    points = [[radius * math.cos(2 * math.pi * i / vertices),
               radius * math.sin(2 * math.pi * i / vertices)] for i in range(vertices)]
    return {"type": "Polygon", "coordinates": [closed(points)]}


def nested_collection(depth: int) -> dict[str, Any]:
    """A point inside ``depth`` GeometryCollections."""
    geometry: dict[str, Any] = {"type": "Point", "coordinates": [0.0, 0.0]}
    for _ in range(depth):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


def nested_list(depth: int) -> Any:
    """``depth`` nested JSON arrays around a number."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def nested_predicate(depth: int) -> dict[str, Any]:
    """A CQL2-JSON comparison inside ``depth`` NOTs."""
    predicate: dict[str, Any] = {"op": "=", "args": [{"property": "gsd"}, 1]}
    for _ in range(depth):
        predicate = {"op": "not", "args": [predicate]}
    return predicate
