"""Complex-valued rasters (single-look complex SAR): items with amplitude statistics,
raster extension data types and amplitude thumbnails, on rasters generated here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy
from rasterio.transform import from_origin
from rasterio.warp import transform, transform_bounds

from catalog.stac import normalize_items
from workers.extract import extract

WHEN = datetime(2023, 3, 1, tzinfo=UTC)
TRANSFORM = from_origin(600_000, 5_100_000, 10, 10)

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


def _values(shape: tuple[int, int]) -> np.ndarray:
    """Speckle-like complex values: independent Gaussian real and imaginary parts."""
    rng = np.random.default_rng(7)
    return rng.normal(scale=300, size=shape) + 1j * rng.normal(scale=300, size=shape)


def _write(path: Path, dtype: str, values: np.ndarray) -> Path:
    """A 2-band complex GeoTIFF; CInt32, which rasterio cannot create, through a VRT
    over a CInt16 file (GDAL converts while copying)."""
    source = path if dtype != "complex_int32" else path.with_suffix(".cint16.tif")
    profile = {
        "driver": "GTiff", "width": values.shape[-1], "height": values.shape[-2],
        "count": 2, "crs": "EPSG:32633", "transform": TRANSFORM,
        "dtype": "complex_int16" if dtype == "complex_int32" else dtype,
    }
    with rasterio.open(source, "w", **profile) as ds:
        ds.write(values.astype("complex128" if dtype == "complex128" else "complex64"))
    if dtype == "complex_int32":
        bands = "".join(
            f'<VRTRasterBand dataType="CInt32" band="{b}"><SimpleSource>'
            f"<SourceFilename>{source}</SourceFilename><SourceBand>{b}</SourceBand>"
            "</SimpleSource></VRTRasterBand>"
            for b in (1, 2)
        )
        vrt = path.with_suffix(".vrt")
        vrt.write_text(
            f'<VRTDataset rasterXSize="{values.shape[-1]}" rasterYSize="{values.shape[-2]}">'
            f"<SRS>EPSG:32633</SRS><GeoTransform>{', '.join(map(str, TRANSFORM.to_gdal()))}"
            f"</GeoTransform>{bands}</VRTDataset>"
        )
        rio_copy(vrt, path, driver="GTiff")
    return path


@pytest.mark.parametrize(
    ("dtype", "stac_type"),
    [
        ("complex_int16", "cint16"),
        ("complex_int32", "cint32"),
        ("complex64", "cfloat32"),
        ("complex128", "cfloat64"),
    ],
)
def test_a_complex_raster_becomes_an_item_with_amplitude_statistics(
    tmp_path: Path, dtype: str, stac_type: str
) -> None:
    values = _values((2, 90, 120))
    stored = np.round(values) if "int" in dtype else values  # integer types round
    path = _write(tmp_path / "slc.tif", dtype, values)
    found = extract(path, "sar", datetime=WHEN, thumbnail=True)
    bands = found.item["assets"]["data"]["raster:bands"]
    assert [b["data_type"] for b in bands] == [stac_type, stac_type]
    assert normalize_items([found.item])[0].id == "slc"
    for band, expected in zip(bands, np.abs(stored), strict=True):
        assert band["statistics"] == pytest.approx({
            "minimum": expected.min(), "maximum": expected.max(), "mean": expected.mean(),
            "stddev": expected.std(), "valid_percent": 100.0,
        }, rel=1e-5)
    assert found.thumbnail is not None
    with MemoryFile(found.thumbnail) as memory, memory.open() as png:
        grey, alpha = png.read()
    assert (png.count, png.width, png.height) == (2, 120, 90)
    assert alpha.min() == 255
    # The thumbnail shows the amplitude: brighter where the modulus is larger.
    amplitude = np.abs(stored[0])
    assert np.corrcoef(grey.ravel(), amplitude.ravel())[0, 1] > 0.9


def test_a_complex_rasters_footprint_is_its_grid_as_rasterio_places_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "slc.tif", "complex64", _values((2, 90, 120)))
    item = extract(path, "sar", datetime=WHEN).item
    with rasterio.open(path) as ds:  # every pixel is valid: the footprint is the grid
        expected = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
        # The outline with 21 points an edge (UTM edges curve in longitude/latitude).
        steps = np.linspace(0, 1, 21)[:-1]
        cols = np.concatenate([steps * 120, np.full(20, 120), (1 - steps) * 120, np.zeros(20)])
        rows = np.concatenate([np.zeros(20), steps * 90, np.full(20, 90), (1 - steps) * 90])
        xs, ys = ds.transform * (cols, rows)
    assert item["bbox"] == pytest.approx(list(expected), abs=1e-7)
    lon, lat = transform(ds.crs, "EPSG:4326", xs, ys)
    outline = shapely.Polygon(zip(lon, lat, strict=True))
    footprint = shapely.geometry.shape(item["geometry"])
    assert footprint.symmetric_difference(outline).area / outline.area < 1e-6
