"""The item datetime: given, provided, or read from the file; never invented."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from tests.support.paths import RASTERS
from workers.errors import MissingDatetime
from workers.extract import build_item
from workers.extract.acquired import acquisition_datetime, parse_tiff_datetime


def _acquired(name: str, **kwargs) -> datetime:
    with rasterio.open(RASTERS / name) as ds:
        return acquisition_datetime(ds, **kwargs)


def test_the_tiff_datetime_tag_is_read_as_utc() -> None:
    assert _acquired("rio-tiler/cog_gcps.tif") == datetime(2018, 7, 16, 6, 6, 23, tzinfo=UTC)


def test_the_imagery_acquisition_time_comes_before_the_tiff_tag() -> None:
    found = _acquired("rio-cogeo/dataset_namespace_metadata.tif")
    assert found == datetime(2011, 5, 1, 13, 0, tzinfo=UTC)


def test_the_file_wins_over_a_given_datetime() -> None:
    given = datetime(2000, 1, 1, tzinfo=UTC)
    found = _acquired("rio-tiler/cog_gcps.tif", given=given)
    assert found == datetime(2018, 7, 16, 6, 6, 23, tzinfo=UTC)


def test_a_given_datetime_is_used_when_the_file_says_nothing() -> None:
    given = datetime(2000, 1, 1, tzinfo=UTC)
    assert _acquired("rasterio/byte.tif", given=given, file_name="byte.tif") == given


def test_a_conventional_file_name_comes_after_the_tags_and_before_a_given_datetime(
    tmp_path: Path,
) -> None:
    path = tmp_path / "S2B_MSIL2A_20210713T184919_N0301_R113_T10TFK_20210714T001219.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
        crs="EPSG:32610", transform=from_origin(600_000, 4_600_000, 10, 10),
    ) as ds:
        ds.write(np.ones((1, 4, 4), dtype="uint8"))
    given = datetime(2000, 1, 1, tzinfo=UTC)
    item = build_item(path, "s2", datetime=given)
    assert item["properties"]["datetime"] == "2021-07-13T18:49:19Z"
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(TIFFTAG_DATETIME="2021:07:14 00:12:19")
    assert build_item(path, "s2", datetime=given)["properties"]["datetime"] == (
        "2021-07-14T00:12:19Z"
    )


def test_provider_metadata_wins_over_the_file() -> None:
    provided = datetime(2001, 2, 3, tzinfo=UTC)
    assert _acquired("rio-tiler/cog_gcps.tif", provided=provided) == provided


def test_a_raster_without_any_datetime_asks_for_one_naming_the_sources_tried() -> None:
    with pytest.raises(MissingDatetime, match="give the item's datetime") as raised:
        _acquired("rasterio/byte.tif", file_name="byte.tif")
    message = str(raised.value)
    for source in ("provider metadata", "TIFFTAG_DATETIME", "'byte.tif'", "NAIP", "ASTER"):
        assert source in message


def test_a_tiff_datetime_with_dashes_is_accepted() -> None:
    expected = datetime(2023, 10, 30, 11, 37, 13, tzinfo=UTC)
    assert parse_tiff_datetime("2023-10-30 11:37:13") == expected
