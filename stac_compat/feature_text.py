"""Item collections assembled from the item JSON text PostgreSQL writes.

A search page's items come from ``catalog.search.render.item_text_parts`` as JSON text
without links; the API's links are spliced in as text, so the documents are never
decoded and encoded again in Python. Requests that pick fields (the Fields extension)
need the documents as dicts and take the other path.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

from catalog.assets import AssetUrls
from catalog.stac.links import GEOJSON, item_links


@dataclass(frozen=True)
class FeatureTexts:
    """The JSON texts of a page's features, each a complete STAC Item."""

    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def feature_text(row: Any, base: str, urls: AssetUrls | None = None) -> str:
    """One STAC Item as JSON text: the ``document`` of ``row`` (a mapping: JSON text of
    an object without ``links``) with the API's links and the row's ``kept_links`` (a
    JSON array) in front, and the hrefs of stored assets made public by ``urls``."""
    around = _links_around_id(base, row["collection"])
    if around is None:
        own = orjson.dumps(item_links(base, row["collection"], row["id"])).decode()
    else:
        own = f"{around[0]}{quote(row['id'], safe='')}{around[1]}"
    kept = row["kept_links"]
    links = own if kept == "[]" else f"{own[:-1]},{kept[1:]}"
    document = row["document"]
    if urls is not None:
        document = urls.item_text(document)
    return f'{{"links":{links},{document[1:]}'


_MARK = "\ue000"
_QUOTED_MARK = quote(_MARK, safe="")


@lru_cache(maxsize=1024)
def _links_around_id(base: str, collection: str) -> tuple[str, str] | None:
    """The JSON text of an item's links (``item_links``) before and after its quoted id,
    the same for every item of a collection: a page writes only the ids in between (a
    quoted id holds no character JSON escapes). None in the odd case where the base URL
    or the collection id holds the mark itself."""
    parts = orjson.dumps(item_links(base, collection, _MARK)).decode().split(_QUOTED_MARK)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def item_collection_response(body: dict[str, Any]) -> Response:
    """An item collection whose ``features`` are ``FeatureTexts`` or a list of dicts, as
    ``application/geo+json``."""
    features = body["features"]
    if not isinstance(features, FeatureTexts):
        return Response(orjson.dumps(body), media_type=GEOJSON)
    rest = orjson.dumps({k: v for k, v in body.items() if k != "features"})
    head = b'{"features":[' + ",".join(features.texts).encode() + b"]"
    payload = head + (b"}" if rest == b"{}" else b"," + rest[1:])
    return Response(payload, media_type=GEOJSON)
