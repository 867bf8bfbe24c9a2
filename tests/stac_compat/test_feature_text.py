"""Item JSON text spliced with links equals the dict path (``with_item_links``)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search.render import item_json, item_text_parts, items
from catalog.stac.links import item_links, with_item_links
from stac_compat.feature_text import FeatureTexts, feature_text, item_collection_response

BASE = "http://stacql.test/stac/"


async def _both(session: AsyncSession, *where: Any) -> list[tuple[dict, dict]]:
    query = select(item_json().label("stac"), *item_text_parts()).where(*where)
    rows = (await session.execute(query)).mappings().all()
    return [
        (orjson.loads(feature_text(row, BASE)), with_item_links(row["stac"], BASE))
        for row in rows
    ]


async def test_every_stored_item_renders_as_the_dict_path(
    loaded_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with loaded_sessions() as session:
        pairs = await _both(session)
    assert len(pairs) > 1000
    assert [text for text, _ in pairs] == [doc for _, doc in pairs]


async def test_stored_links_keep_their_order_without_structural_ones(
    loaded_sessions: async_sessionmaker[AsyncSession],
) -> None:
    links = [
        {"rel": "self", "href": "https://elsewhere.example/item.json"},
        {"rel": "license", "href": "https://example.com/license"},
        {"href": "https://example.com/no-rel"},
        {"rel": "root", "href": "https://elsewhere.example/catalog.json"},
        {"rel": "via", "href": "https://example.com/source"},
    ]
    async with loaded_sessions() as session, session.begin():
        key = (await session.execute(select(items.c.collection_id, items.c.id).limit(1))).one()
        where = (items.c.collection_id == key[0], items.c.id == key[1])
        await session.execute(update(items).where(*where).values(links=links))
        [(text, doc)] = await _both(session, *where)
        await session.rollback()
    assert text == doc
    assert [link.get("rel") for link in text["links"]][4:] == ["license", None, "via"]


def test_item_collection_of_texts_is_the_same_json_as_of_dicts() -> None:
    features = [{"type": "Feature", "id": "a", "links": []}, {"type": "Feature", "id": "b"}]
    body = {"type": "FeatureCollection", "links": [], "numberReturned": 2}
    texts = FeatureTexts([orjson.dumps(f).decode() for f in features])
    as_text = item_collection_response({**body, "features": texts})
    as_dicts = item_collection_response({**body, "features": features})
    assert orjson.loads(as_text.body) == orjson.loads(as_dicts.body)
    assert as_text.media_type == "application/geo+json"


@pytest.mark.parametrize(
    ("base", "collection", "item_id"),
    [
        (BASE, "naip", "m_3008501_ne_16_060_20191109"),
        (BASE, "a b/c?d", 'x"y\\z/ é#%'),
        (BASE, "c\ue000", "i\ue000"),  # the mark feature_text writes links around
        ("http://stacql.test/%EE%80%80/", "c", "i"),
    ],
)
def test_links_of_odd_ids_are_those_item_links_writes(
    base: str, collection: str, item_id: str
) -> None:
    row = {"collection": collection, "id": item_id, "kept_links": "[]",
           "document": orjson.dumps({"type": "Feature", "id": item_id}).decode()}
    assert orjson.loads(feature_text(row, base))["links"] == item_links(base, collection, item_id)
