"""Stored assets as clients reach them: public hrefs, access checks, and delivery."""

from catalog.assets.delivery import (
    Delivery,
    FileDelivery,
    ObjectDelivery,
    RedirectDelivery,
    deliver,
    entity_tag,
)
from catalog.assets.hrefs import GRANT_PARAMETER, AssetUrls, asset_path, url_segment
from catalog.assets.locate import StoredAsset, choose_asset, locate_asset

__all__ = [
    "GRANT_PARAMETER",
    "AssetUrls",
    "Delivery",
    "FileDelivery",
    "ObjectDelivery",
    "RedirectDelivery",
    "StoredAsset",
    "asset_path",
    "choose_asset",
    "deliver",
    "entity_tag",
    "locate_asset",
    "url_segment",
]
