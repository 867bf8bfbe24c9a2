"""Map tiles and previews of stored rasters, rendered with rio-tiler.

Blocking (GDAL reads, encoding): callers run these functions in a worker thread. Every
raster is opened by us, with the drivers of ``RASTER_DRIVERS`` only, so a stored file
that names other files or URLs (a VRT) is never followed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import morecantile
import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rio_tiler.colormap import cmap as colormaps
from rio_tiler.constants import MAX_THREADS
from rio_tiler.errors import RioTilerError, TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.models import ImageData
from rio_tiler.mosaic import mosaic_reader

from catalog.errors import InvalidInput, NotFound, StorageError
from catalog.tiles.warp import warp_tile

RASTER_DRIVERS = ("GTiff", "COG", "JP2OpenJPEG", "PNG", "JPEG", "WEBP", "HFA", "NITF")
FORMATS = {"png": "PNG", "webp": "WEBP", "jpg": "JPEG", "jpeg": "JPEG"}
MEDIA_TYPES = {"PNG": "image/png", "WEBP": "image/webp", "JPEG": "image/jpeg"}
# Tiles are encoded on every request: deflate level 1 takes a third of the time of the
# default level 6 for 5-7% more bytes (measured on RGB tiles, bench/tiles.py).
PNG_ZLEVEL = 1
MAX_TILE_SIZE = 1024
MAX_PREVIEW_SIZE = 2048


class TileNotAvailable(NotFound):
    """The tile lies outside every raster asked for."""

    code = "TILE_OUTSIDE_BOUNDS"


def tile_matrix_set(name: str) -> morecantile.TileMatrixSet:
    """One of morecantile's TileMatrixSets by id; ``InvalidInput`` for an unknown one."""
    try:
        return morecantile.tms.get(name)
    except Exception as exc:  # morecantile raises its own InvalidIdentifier
        known = ", ".join(sorted(morecantile.tms.list()))
        raise InvalidInput(f"unknown tile matrix set {name!r}; known: {known}") from exc


@dataclass(frozen=True)
class RasterSource:
    """A raster to read: a path GDAL opens (a local file, or ``/vsicurl/`` of a presigned
    URL) and its STAC asset object (``raster:bands`` statistics serve as defaults)."""

    path: str
    asset: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderOptions:
    """How to turn bands into an image.

    ``bands`` are 1-based band indexes (all, up to 3, when None); ``rescale`` maps each
    band's (min, max) to 0-255 (defaults: the asset's ``raster:bands`` statistics, none
    for 8-bit data); ``colormap`` names a rio-tiler colormap for a single band;
    ``nodata`` overrides the file's; ``image_format`` is PNG, WEBP or JPEG.
    """

    bands: tuple[int, ...] | None = None
    rescale: tuple[tuple[float, float], ...] | None = None
    colormap: str | None = None
    nodata: float | None = None
    image_format: str = "PNG"
    tile_size: int = 256

    def __post_init__(self) -> None:
        if self.image_format not in MEDIA_TYPES:
            raise InvalidInput(f"unknown image format {self.image_format!r}")
        if not 1 <= self.tile_size <= MAX_TILE_SIZE:
            raise InvalidInput(f"tile size must be 1 to {MAX_TILE_SIZE} pixels")
        if self.bands is not None and (not self.bands or min(self.bands) < 1):
            raise InvalidInput("bands are 1-based band indexes")
        if self.colormap is not None and self.colormap not in colormaps.list():
            raise InvalidInput(f"unknown colormap {self.colormap!r}")

    @property
    def media_type(self) -> str:
        """The media type of the rendered image."""
        return MEDIA_TYPES[self.image_format]


@contextmanager
def _open(source: RasterSource) -> Iterator[DatasetReader]:
    """The raster, opened with ``RASTER_DRIVERS`` only, under a GDAL environment that reads
    a URL as one file (no listing of its "folder")."""
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        try:
            # rasterio.open takes one driver name; the reader itself takes a list.
            dataset = DatasetReader(source.path, driver=list(RASTER_DRIVERS))
        except RasterioError as exc:
            raise StorageError(f"cannot open the raster of the asset: {exc}") from exc
        with dataset:
            yield dataset


def _indexes(dataset: DatasetReader, options: RenderOptions) -> tuple[int, ...]:
    bands = options.bands or tuple(range(1, min(dataset.count, 3) + 1))
    if max(bands) > dataset.count:
        raise InvalidInput(f"the raster has {dataset.count} bands; asked for band {max(bands)}")
    return bands


def default_rescale(
    asset: dict[str, Any], bands: Sequence[int], dtype: str
) -> tuple[tuple[float, float], ...] | None:
    """Each band's (minimum, maximum) from the asset's ``raster:bands`` statistics, or
    None when the data is 8-bit (already displayable) or any band lacks them."""
    if dtype == "uint8":
        return None
    described = asset.get("raster:bands")
    if not isinstance(described, list):
        return None
    ranges = []
    for band in bands:
        stats = described[band - 1].get("statistics", {}) if band <= len(described) else {}
        low, high = stats.get("minimum"), stats.get("maximum")
        if not isinstance(low, int | float) or not isinstance(high, int | float):
            return None
        ranges.append((float(low), float(high) if high > low else float(low) + 1))
    return tuple(ranges)


def _finish(image: ImageData, options: RenderOptions, asset: dict[str, Any], dtype: str) -> bytes:
    bands = options.bands or tuple(range(1, image.count + 1))
    rescale = options.rescale or default_rescale(asset, bands, dtype)
    if rescale is None and dtype != "uint8":
        finite = image.array.compressed() if np.ma.isMaskedArray(image.array) else image.array
        low, high = (float(np.nanmin(finite)), float(np.nanmax(finite))) if finite.size else (0, 1)
        rescale = ((low, high if high > low else low + 1),)
    if rescale is not None:
        image = image.rescale(in_range=rescale if len(rescale) > 1 else rescale * image.count)
    colormap = None
    if options.colormap is not None:
        if image.count != 1:
            raise InvalidInput("a colormap applies to one band: choose it with bands")
        colormap = colormaps.get(options.colormap)
    return _encode(image, options, colormap)


def _encode(image: ImageData, options: RenderOptions, colormap: Any = None) -> bytes:
    extra = {"ZLEVEL": PNG_ZLEVEL} if options.image_format == "PNG" else {}
    return image.render(img_format=options.image_format, colormap=colormap, **extra)  # type: ignore[arg-type]


def _read_tile(
    source: RasterSource, tms: morecantile.TileMatrixSet, x: int, y: int, z: int,
    options: RenderOptions,
) -> ImageData:
    with _open(source) as dataset, Reader(source.path, dataset=dataset, tms=tms) as reader:
        if not reader.tile_exists(x, y, z):
            raise TileOutsideBounds(f"tile {z}/{x}/{y} is outside the raster")
        indexes = _indexes(dataset, options)
        tile = morecantile.Tile(x, y, z)
        # The same pixels as rio-tiler's read, without its tile-sized virtual raster.
        image = warp_tile(dataset, tms, tile, options.tile_size, indexes, options.nodata)
        if image is not None:
            return image
        return reader.tile(
            x, y, z, tilesize=options.tile_size, indexes=indexes, nodata=options.nodata
        )


def render_tile(
    source: RasterSource, tms: morecantile.TileMatrixSet, x: int, y: int, z: int,
    options: RenderOptions,
) -> bytes:
    """Tile ``z/x/y`` of ``tms`` over one raster, encoded; ``TileNotAvailable`` outside it."""
    try:
        image = _read_tile(source, tms, x, y, z, options)
    except TileOutsideBounds as exc:
        raise TileNotAvailable(f"tile {z}/{x}/{y} lies outside the raster") from exc
    except (RioTilerError, RasterioError) as exc:
        raise StorageError(f"cannot read tile {z}/{x}/{y} of the raster: {exc}") from exc
    return _finish(image, options, source.asset, str(image.array.dtype))


def render_preview(source: RasterSource, options: RenderOptions, max_size: int = 1024) -> bytes:
    """The whole raster, at most ``max_size`` pixels on its longer side, encoded."""
    if not 1 <= max_size <= MAX_PREVIEW_SIZE:
        raise InvalidInput(f"preview size must be 1 to {MAX_PREVIEW_SIZE} pixels")
    try:
        with _open(source) as dataset, Reader(source.path, dataset=dataset) as reader:
            image = reader.preview(
                indexes=_indexes(dataset, options), max_size=max_size, nodata=options.nodata
            )
    except (RioTilerError, RasterioError) as exc:
        raise StorageError(f"cannot read a preview of the raster: {exc}") from exc
    return _finish(image, options, source.asset, str(image.array.dtype))


def render_mosaic_tile(
    sources: Sequence[RasterSource], tms: morecantile.TileMatrixSet, x: int, y: int, z: int,
    options: RenderOptions,
) -> bytes:
    """Tile ``z/x/y`` composed of ``sources`` in order: a pixel comes from the first
    source that has data there (callers put the newest first). ``TileNotAvailable``
    when none covers the tile."""
    if not sources:
        raise TileNotAvailable(f"no raster of the mosaic covers tile {z}/{x}/{y}")

    def read(source: RasterSource, x: int, y: int, z: int) -> ImageData:
        return _read_tile(source, tms, x, y, z, options)

    try:
        # Reads overlap in threads (GDAL releases the GIL), in batches of MAX_THREADS,
        # and stop at the first batch that fills the tile; as titiler-pgstac does.
        image, used = mosaic_reader(list(sources), read, x, y, z, threads=MAX_THREADS)
    except (TileOutsideBounds, RioTilerError) as exc:
        if isinstance(exc, TileOutsideBounds) or "No data" in str(exc):
            raise TileNotAvailable(f"no raster of the mosaic covers tile {z}/{x}/{y}") from exc
        raise StorageError(f"cannot read tile {z}/{x}/{y} of the mosaic: {exc}") from exc
    first = next(s for s in sources if s in used) if used else sources[0]
    return _finish(image, options, first.asset, str(image.array.dtype))


def empty_tile(options: RenderOptions) -> bytes:
    """A fully transparent tile (PNG or WEBP), for places a mosaic does not cover."""
    if options.image_format == "JPEG":
        raise InvalidInput("JPEG has no transparency: ask for PNG or WEBP tiles")
    size = options.tile_size
    array = np.ma.masked_all((1, size, size), dtype="uint8")
    return _encode(ImageData(array), options)


def zoom_range(source: RasterSource, tms: morecantile.TileMatrixSet) -> tuple[int, int]:
    """The zoom levels of ``tms`` at which the raster is worth showing (rio-tiler's
    estimate from its resolution and overviews)."""
    try:
        with _open(source) as dataset, Reader(source.path, dataset=dataset, tms=tms) as reader:
            return reader.minzoom, reader.maxzoom
    except (RioTilerError, RasterioError) as exc:
        raise StorageError(f"cannot read the raster: {exc}") from exc
