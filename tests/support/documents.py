"""STAC documents tests write through the APIs."""

from __future__ import annotations

from typing import Any


def world_collection(collection_id: str) -> dict[str, Any]:
    """A minimal valid STAC 1.1 collection over the whole world and all time."""
    return {
        "type": "Collection", "stac_version": "1.1.0", "id": collection_id,
        "description": collection_id, "license": "other", "links": [],
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                   "temporal": {"interval": [[None, None]]}},
    }
