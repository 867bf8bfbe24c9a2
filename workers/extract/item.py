"""A raster file → a STAC item dict: the one place that opens files (under ``rasterio.Env``).

The item carries the footprint of the valid data (geometry and bbox in EPSG:4326), the
projection fields in its properties and one asset with the raster, eo and file fields.
It has no timestamps of its own, so extracting the same file twice gives the same item
and an upsert of it changes nothing.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader, DatasetReaderBase

from catalog.checksums import CHECKSUMS
from catalog.rasters import DEFAULT_MAX_PIXELS, subdatasets_named
from catalog.temporal import format_rfc3339
from workers.errors import InvalidRaster, UnreadableRaster
from workers.extract.acquired import acquisition_datetime
from workers.extract.bands import (
    DEFAULT_STATS_SIZE,
    EO_SCHEMA,
    RASTER_SCHEMA,
    band_fields,
    eo_bands,
)
from workers.extract.files import FILE_SCHEMA, KnownChecksum, hashing
from workers.extract.footprint import footprint_from_grid
from workers.extract.georef import Georeference, georeference
from workers.extract.integrity import check_blocks
from workers.extract.media import media_type
from workers.extract.projection import PROJECTION_SCHEMA, projection_fields_for
from workers.extract.provider import ProviderMetadata
from workers.extract.refine import DEFAULT_REFINE_BYTES, reduced_grid
from workers.extract.sample import Sample, read_sample
from workers.extract.scan import (
    DEFAULT_GRID_SIZE,
    ValidGrid,
    sampled_grid_geometry,
    scan_onto,
)
from workers.extract.thumbnail import DEFAULT_THUMBNAIL_SIZE, display_bands, render_thumbnail

STAC_VERSION = "1.1.0"

SAFE_DRIVERS = ("GTiff", "COG", "JP2OpenJPEG", "JPEG", "PNG", "HFA", "NITF")
"""Formats whose files cannot point GDAL at other files or URLs (a VRT can name any
local path): what uploaded files are opened with."""

DEFAULT_GDAL_ENV: Mapping[str, Any] = MappingProxyType({"GDAL_CACHEMAX": 256 * 1024 * 1024})
"""GDAL configuration while extracting: a 256 MB block cache bounds memory per worker."""


FOOTPRINT_DECIMATION = "stacql:footprint_decimation"
"""Item property: full-resolution pixels per side of a cell of the grid the footprint
was traced on (1: every pixel)."""
STATISTICS_DECIMATION = "stacql:statistics_decimation"
"""Item property: full-resolution pixels per side of a pixel the statistics (and the
footprint's validity) were read at (1: every pixel)."""


@dataclass(frozen=True)
class ExtractOptions:
    """How extraction reads a file: grid and read sizes (pixels a side), the GDAL
    drivers allowed (None: any), GDAL configuration options and the hash function of
    ``file:checksum`` (one of ``files.CHECKSUMS``).

    Statistics, the footprint's validity and the thumbnail come from one read of at
    most ``max(stats_size, grid_size)`` pixels a side (overviews when the file has
    them); where a thin or speckled valid area leaves cells uncertain, the file's
    blocks holding them are read again at full resolution within ``refine_bytes``
    decoded (see :mod:`.refine`);
    ``full_scan`` decodes every pixel for the footprint instead, which is slower but
    finds damage anywhere in the file (see :mod:`.integrity`).
    """

    grid_size: int = DEFAULT_GRID_SIZE
    stats_size: int = DEFAULT_STATS_SIZE
    thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE
    allowed_drivers: tuple[str, ...] | None = None
    gdal_env: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_GDAL_ENV)
    full_scan: bool = False
    checksum: str = "sha2-256"
    # Decoded bytes of the blocks a thin or speckled footprint may read again at full
    # resolution (see .refine); 0: never.
    refine_bytes: int = DEFAULT_REFINE_BYTES

    def __post_init__(self) -> None:
        if self.checksum not in CHECKSUMS:
            known = ", ".join(CHECKSUMS)
            raise ValueError(f"checksum must be one of {known}, not {self.checksum!r}")
    # The upload limit, applied to every file a worker reads: a huge sparse TIFF stored
    # as a sidecar, then named as an item's data asset, took 28 s to scan (issue 16).
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class Extraction:
    """An item dict and, when asked for, the PNG thumbnail rendered beside it."""

    item: dict[str, Any]
    thumbnail: bytes | None = None


def local_path(href: str | Path) -> Path:
    """The local path of a plain path or ``file://`` URI."""
    text = str(href)
    parts = urlsplit(text)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    return Path(text)


def item_id_from_name(href: str | Path) -> str:
    """A deterministic item id from a file name: its stem, runs of characters other
    than letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    stem = PurePosixPath(urlsplit(str(href)).path or str(href)).name.split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", unquote(stem)).strip("_")
    if not cleaned:
        raise InvalidRaster(f"no item id can be derived from the file name of {href!r}")
    return cleaned


def imagery_properties(ds: DatasetReaderBase) -> dict[str, Any]:
    """``eo:cloud_cover`` (percent) from GDAL's IMAGERY metadata domain, when given."""
    cloud = ds.tags(ns="IMAGERY").get("CLOUDCOVER")
    try:
        cover = float(cloud) if cloud is not None else None
    except ValueError:
        cover = None
    return {"eo:cloud_cover": cover} if cover is not None and 0 <= cover <= 100 else {}


@contextmanager
def open_raster(path: Path, options: ExtractOptions) -> Iterator[DatasetReaderBase]:
    """Open a raster under ``rasterio.Env``; ``UnreadableRaster`` when GDAL cannot."""
    if not path.is_file():
        raise UnreadableRaster("no such file")
    with rasterio.Env(**options.gdal_env), warnings.catch_warnings():
        # A raster without georeferencing is refused with InvalidRaster, not a warning.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            if options.allowed_drivers:
                # GDAL tries only these drivers (rasterio.open takes a single name).
                ds = DatasetReader(path, driver=list(options.allowed_drivers))
            else:
                ds = rasterio.open(path)
        except RasterioError as exc:
            allowed = f" (allowed formats: {', '.join(options.allowed_drivers)})" if (
                options.allowed_drivers
            ) else ""
            reason = str(exc).replace(str(path), path.name)  # no server path in job errors
            raise UnreadableRaster(f"GDAL cannot open it{allowed}: {reason}") from exc
        with ds:
            if ds.width * ds.height > options.max_pixels:
                raise InvalidRaster(
                    f"the raster has {ds.width} x {ds.height} pixels, more than the limit "
                    f"of {options.max_pixels}"
                )
            yield ds


def _asset(
    ds: DatasetReaderBase, href: str, provider: ProviderMetadata, sample: Sample,
    georef: Georeference,
) -> dict[str, Any]:
    names = list(provider.eo_bands) if provider.eo_bands is not None else eo_bands(ds)
    if len(names) != ds.count:
        raise InvalidRaster(
            f"the provider describes {len(names)} bands but the file has {ds.count}"
        )
    asset: dict[str, Any] = {"href": href}
    found = media_type(ds)
    if found:
        asset["type"] = found
    if provider.asset_title:
        asset["title"] = provider.asset_title
    asset["roles"] = ["data"]
    asset["raster:bands"] = band_fields(ds, sample=sample, georef=georef)
    asset["eo:bands"] = [dict(b) for b in names]
    return asset


def _valid_grid(ds: DatasetReaderBase, sample: Sample, options: ExtractOptions) -> ValidGrid:
    """The grid the footprint is traced on: from the sample, or from a full scan when
    asked, or when the sample shows no valid pixel (only a full scan tells a sparse
    raster, with data in a few full-resolution blocks, from an empty one)."""
    if not options.full_scan:
        grid = reduced_grid(ds, sample, options.grid_size, options.refine_bytes)
        if grid.cells.any():
            return grid
    # The same cells as from the sample, so both footprints compare cell for cell.
    geometry = sampled_grid_geometry(ds.width, ds.height, sample.shape, options.grid_size)
    return scan_onto(ds, geometry)


def _read(
    ds: DatasetReaderBase, path: Path, options: ExtractOptions, thumbnail: bool
) -> tuple[Georeference, Sample, ValidGrid]:
    """Georeferencing, the reduced-resolution sample and the validity grid; raises
    ``InvalidRaster`` or ``UnreadableRaster`` before any pixel is read when it can."""
    if ds.count == 0:
        raise InvalidRaster(f"it has no raster bands{subdatasets_named(ds)}")
    georef = georeference(ds)
    check_blocks(ds, path.stat().st_size, path)
    display = tuple(display_bands(ds)) if thumbnail else ()
    sample = read_sample(ds, max(options.stats_size, options.grid_size), display)
    return georef, sample, _valid_grid(ds, sample, options)


def _item(
    ds: DatasetReaderBase, path: Path, collection_id: str, item_id: str | None,
    when: datetime | None, provider: ProviderMetadata, asset_href: str,
    read: tuple[Georeference, Sample, ValidGrid],
) -> dict[str, Any]:
    georef, sample, grid = read
    located = footprint_from_grid(georef, grid)
    acquired = acquisition_datetime(ds, when, provider.datetime, path.name)
    properties = {
        "datetime": format_rfc3339(acquired),
        **projection_fields_for(georef),
        **imagery_properties(ds),
        FOOTPRINT_DECIMATION: round(located["cell"], 4),
        STATISTICS_DECIMATION: round(sample.decimation(ds.width), 4),
        **provider.properties,
    }
    extensions = [PROJECTION_SCHEMA, RASTER_SCHEMA, EO_SCHEMA, FILE_SCHEMA]
    extensions += [e for e in provider.stac_extensions if e not in extensions]
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": extensions,
        "id": item_id or provider.item_id or item_id_from_name(path),
        "collection": collection_id,
        "geometry": located["geometry"],
        "bbox": located["bbox"],
        "properties": properties,
        "links": [],
        "assets": {provider.asset_key: _asset(ds, asset_href, provider, sample, georef)},
    }


def extract(
    href: str | Path,
    collection_id: str,
    *,
    item_id: str | None = None,
    datetime: datetime | None = None,
    provider_metadata: ProviderMetadata | None = None,
    asset_href: str | None = None,
    thumbnail: bool = False,
    options: ExtractOptions | None = None,
    known_checksum: KnownChecksum | None = None,
) -> Extraction:
    """Open a local raster once and build its STAC item (and thumbnail, if asked).

    ``href`` is a local path or ``file://`` URI; ``asset_href`` is what the data asset
    points to (default: ``href``). The item id is ``item_id``, else the provider's id,
    else derived from the file name, so the same file always gives the same id.
    ``known_checksum``: the file's size and checksum as computed where it was received
    (an upload); used instead of hashing the file when the size still matches.

    Raises ``UnreadableRaster`` (GDAL cannot open or decode it), ``InvalidRaster`` (no
    bands, no georeferencing, not on Earth, no valid pixel, bands the provider does not
    describe) or ``MissingDatetime``.
    """
    options = options or ExtractOptions()
    provider = provider_metadata or ProviderMetadata()
    path = local_path(href)
    try:
        # Hashing starts first: a large file's hash takes longer than its extraction.
        with hashing(path, options.checksum, known_checksum) as file_info, open_raster(
            path, options
        ) as ds:
            read = _read(ds, path, options, thumbnail)
            item = _item(
                ds, path, collection_id, item_id, datetime, provider,
                asset_href or str(href), read,
            )
            png = render_thumbnail(ds, options.thumbnail_size, read[1]) if thumbnail else None
            item["assets"][provider.asset_key].update(file_info())
    except RasterioError as exc:
        raise UnreadableRaster(f"{path.name}: reading it failed: {exc}") from exc
    except (InvalidRaster, UnreadableRaster) as exc:
        # Same class, the file named once in front of the reason.
        raise type(exc)(f"{path.name}: {exc.message}") from exc
    return Extraction(item, png)


def build_item(
    href: str | Path,
    collection_id: str,
    item_id: str | None = None,
    datetime: datetime | None = None,
    provider_metadata: ProviderMetadata | None = None,
    *,
    asset_href: str | None = None,
    options: ExtractOptions | None = None,
) -> dict[str, Any]:
    """The STAC item dict of a local raster (see :func:`extract`, which also renders a
    thumbnail)."""
    return extract(
        href, collection_id, item_id=item_id, datetime=datetime,
        provider_metadata=provider_metadata, asset_href=asset_href, options=options,
    ).item
