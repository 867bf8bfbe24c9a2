"""Cloud-optimized GeoTIFFs for uploads that are not: tiles and range reads stay cheap.

An uploaded raster that is not a valid COG is rewritten as one (rio-cogeo: internal
tiles, overviews, deflate) and stored beside the original; the item's data asset then
points to the COG and the original is kept as a second asset with the role ``source``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from rasterio.errors import RasterioError
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from workers.errors import UnreadableRaster
from workers.extract.files import file_fields

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
COG_SUFFIX = ".stacql-cog.tif"
"""Names of the COGs stacql derives; folder ingests and watchers never take them for
uploads of their own."""
ORIGINAL_ASSET = "original"


def is_cloud_optimized(path: Path) -> bool:
    """Whether the file is a valid COG (rio-cogeo's validation, warnings allowed)."""
    try:
        valid, _errors, _warnings = cog_validate(str(path), quiet=True)
    except (RasterioError, ValueError, KeyError):
        return False
    return bool(valid)


def cog_key(key: str) -> str:
    """Where the COG made from the upload at ``key`` is stored: beside it."""
    path = PurePosixPath(key)
    return str(path.with_name(f"{path.name.split('.')[0]}{COG_SUFFIX}"))


@contextmanager
def converted(path: Path) -> Iterator[Path]:
    """A COG copy of the raster at ``path``, in a temporary folder removed afterwards;
    ``UnreadableRaster`` when GDAL cannot rewrite it."""
    with tempfile.TemporaryDirectory(prefix="stacql-cog-") as folder:
        target = Path(folder) / "cog.tif"
        try:
            cog_translate(
                str(path), str(target), cog_profiles.get("deflate"),
                overview_resampling="average", quiet=True, use_cog_driver=True,
            )
        except (RasterioError, ValueError) as exc:
            raise UnreadableRaster(f"cannot rewrite the raster as a COG: {exc}") from exc
        yield target


def with_cog(
    item: dict[str, Any], asset_key: str, cog_href: str, cog_path: Path,
    checksum: str = "sha2-256",
) -> dict[str, Any]:
    """``item`` whose asset ``asset_key`` points to the COG (its file fields those of the
    COG) and whose original file is kept as the asset ``original`` (role ``source``)."""
    assets = dict(item["assets"])
    original = dict(assets[asset_key])
    assets[asset_key] = {**original, "href": cog_href, "type": COG_MEDIA_TYPE,
                         **file_fields(cog_path, algorithm=checksum)}
    assets[ORIGINAL_ASSET] = {
        **{k: v for k, v in original.items() if k in ("href", "type", "file:size",
                                                     "file:checksum")},
        "roles": ["source"], "title": "Original upload",
    }
    return {**item, "assets": assets}
