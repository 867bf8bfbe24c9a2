"""A search's items read page after page, as ndjson lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.assets import AssetUrls
from catalog.search.engine import search_rows
from catalog.search.render import item_text_parts
from catalog.search.request import SearchRequest

PAGE_SIZE = 1000
"""Items read per statement: one page is all an export holds in memory at a time."""


def _line(document: str, kept_links: str, urls: AssetUrls | None) -> bytes:
    """The item as a file holds it: the stored document with its links but the structural
    ones an API writes around it, and the public hrefs of stored assets when ``urls`` is
    given. The JSON text is passed through (decoding it costs more than reading it)."""
    text = f'{document[:-1]}, "links": {kept_links}}}'
    if urls is not None:
        text = urls.item_text(text)
    return text.encode() + b"\n"


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
                session, replace(request, token=token, count=False), item_text_parts()
            )
        yield [
            (row["collection"], _line(row["document"], row["kept_links"], urls))
            for row in page.rows
        ]
        token = page.next_token
        if token is None:
            return
