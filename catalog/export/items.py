"""A search's items read page after page, as ndjson lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.assets import AssetUrls
from catalog.ingest.sources import STRUCTURAL_RELS
from catalog.search.engine import search_rows
from catalog.search.render import item_json
from catalog.search.request import SearchRequest

PAGE_SIZE = 1000
"""Items read per statement: one page is all an export holds in memory at a time."""


def _portable(item: dict[str, Any], urls: AssetUrls | None) -> dict[str, Any]:
    """The item as a file holds it: without the structural links an API writes around
    it, with the public hrefs of stored assets when ``urls`` is given."""
    links = item.get("links") or []
    if any(isinstance(link, dict) and link.get("rel") in STRUCTURAL_RELS for link in links):
        item = {**item, "links": [
            link for link in links
            if not (isinstance(link, dict) and link.get("rel") in STRUCTURAL_RELS)
        ]}
    return urls.item(item) if urls is not None else item


async def item_pages(
    sessions: async_sessionmaker[AsyncSession],
    request: SearchRequest,
    urls: AssetUrls | None = None,
) -> AsyncIterator[list[tuple[str, bytes]]]:
    """The matches of ``request`` as pages of (collection id, ndjson line), in the
    search's order; each page is read in its own short transaction, continuing by
    keyset after the previous one, so no snapshot is held across the export."""
    token = request.token
    while True:
        async with sessions() as session:
            page = await search_rows(
                session, replace(request, token=token, count=False),
                [item_json().label("item")],
            )
        yield [
            (row["item"].get("collection", ""),
             orjson.dumps(_portable(row["item"], urls)) + b"\n")
            for row in page.rows
        ]
        token = page.next_token
        if token is None:
            return
