"""Fixtures of the search tests: the catalog's items read once, and the reference over them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import build_search, search
from tests.support.reference import Key, Reference, RefItem, read_source_items


@pytest.fixture(scope="session")
async def stored_items(loaded_sessions: async_sessionmaker[AsyncSession]) -> dict[Key, dict]:
    """Every item the catalog serves, read once by paging an unfiltered search."""
    stored: dict[Key, dict[str, Any]] = {}
    token = None
    async with loaded_sessions() as session:
        while True:
            page = await search(session, build_search(limit=500, token=token))
            stored.update({(doc["collection"], doc["id"]): doc for doc in page.items})
            token = page.next_token
            if token is None:
                return stored


@pytest.fixture(scope="session")
def source_items() -> dict[Key, list[dict[str, Any]]]:
    """Every valid item of the shared STAC files, read without the loader."""
    return read_source_items()


def _kept_version(versions: list[dict[str, Any]], stored: dict[str, Any]) -> dict[str, Any]:
    """The source version whose geometry and properties the catalog holds.

    When none matches (the loader changed the document), the stored document stands in,
    so a loader defect shows in the fidelity tests rather than in every search.
    """
    for version in versions:
        if (version["geometry"], version["properties"]) == (
            stored["geometry"], stored["properties"]
        ):
            return version
    return stored


@pytest.fixture(scope="session")
def reference(
    stored_items: dict[Key, dict[str, Any]], source_items: dict[Key, list[dict[str, Any]]]
) -> Reference:
    """The reference search over the source documents of the items the catalog holds."""
    assert set(stored_items) <= set(source_items), "the catalog holds items no file has"
    return Reference(
        tuple(
            RefItem.from_doc(_kept_version(source_items[key], stored))
            for key, stored in stored_items.items()
        )
    )
