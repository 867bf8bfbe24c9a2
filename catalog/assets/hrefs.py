"""Public hrefs of stored assets: the URL of the asset endpoint instead of a store path.

An asset whose href names an object of our store (``file:///srv/assets/naip/x.tif``,
``s3://bucket/naip/x.tif``) is served by the API at
``<base>collections/<collection>/items/<item>/assets/<key>``: a URL every client can GET,
which neither reveals the server's folders nor depends on the store. Hrefs that name
anything else (an external https link from ingested STAC) are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from catalog.storage import AssetStore

GRANT_PARAMETER = "token"
"""The query parameter carrying a signed grant (see ``catalog.access.signing``)."""


def url_segment(value: str) -> str:
    """``value`` as one percent-encoded URL path segment (``/`` included, and ``.`` in the
    segments ``.`` and ``..``, which clients would otherwise resolve away)."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def asset_path(collection_id: str, item_id: str, key: str) -> str:
    """The asset endpoint's path below the API's base URL (no leading slash)."""
    return (
        f"collections/{url_segment(collection_id)}/items/{url_segment(item_id)}"
        f"/assets/{url_segment(key)}"
    )


@dataclass(frozen=True)
class AssetUrls:
    """Rewrites the hrefs of stored assets for one response.

    ``base_url`` is the API's public base URL, ending with ``/``; ``grant``, when given, is
    appended to every rewritten href so that a client without headers may read what the
    caller may read.
    """

    store: AssetStore
    base_url: str
    grant: str | None = None

    def url(self, collection_id: str, item_id: str, key: str) -> str:
        """The public URL of an item's asset."""
        url = self.base_url + asset_path(collection_id, item_id, key)
        return f"{url}?{GRANT_PARAMETER}={self.grant}" if self.grant else url

    def href(self, collection_id: str, item_id: str, key: str, href: str) -> str:
        """``href`` made public when it names an object of the store, else unchanged."""
        if not href.startswith(self.store.href_prefix) or self.store.key_of(href) is None:
            return href
        return self.url(collection_id, item_id, key)

    def item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A STAC item whose stored assets have public hrefs (``item`` itself when none
        changes; otherwise a copy, so documents shared with other callers stay intact)."""
        assets = item.get("assets")
        if not isinstance(assets, dict) or not assets:
            return item
        collection_id, item_id = str(item.get("collection", "")), str(item.get("id", ""))
        changed: dict[str, Any] = {}
        for key, asset in assets.items():
            href = asset.get("href") if isinstance(asset, dict) else None
            if isinstance(href, str):
                public = self.href(collection_id, item_id, key, href)
                if public != href:
                    changed[key] = {**asset, "href": public}
        if not changed:
            return item
        return {**item, "assets": {**assets, **changed}}

    def item_text(self, text: str) -> str:
        """A STAC item as JSON text, with :meth:`item` applied; the text is decoded only
        when it names the store at all."""
        if self.store.href_prefix not in text:
            return text
        return orjson.dumps(self.item(orjson.loads(text))).decode()
