"""STAC documents tests write through the APIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx


def world_collection(collection_id: str) -> dict[str, Any]:
    """A minimal valid STAC 1.1 collection over the whole world and all time."""
    return {
        "type": "Collection", "stac_version": "1.1.0", "id": collection_id,
        "description": collection_id, "license": "other", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [[None, None]]}},
    }


async def post_world(
    client: httpx.AsyncClient, items: Sequence[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> None:
    """Create a ``world_collection`` for each collection the items name, then post each
    item to its collection, through the STAC API; any refused write fails the test."""
    for collection_id in dict.fromkeys(item["collection"] for item in items):
        response = await client.post(
            "/collections", json=world_collection(collection_id), headers=headers
        )
        assert response.is_success, response.text
    for item in items:
        response = await client.post(
            f"/collections/{item['collection']}/items", json=item, headers=headers
        )
        assert response.is_success, response.text
