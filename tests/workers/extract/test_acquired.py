"""The item datetime: given, provided, or read from the file; never invented."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import rasterio

from tests.support.paths import RASTERS
from workers.errors import MissingDatetime
from workers.extract.acquired import acquisition_datetime, parse_tiff_datetime


def _acquired(name: str, **kwargs) -> datetime:
    with rasterio.open(RASTERS / name) as ds:
        return acquisition_datetime(ds, **kwargs)


def test_the_tiff_datetime_tag_is_read_as_utc() -> None:
    assert _acquired("rio-tiler/cog_gcps.tif") == datetime(2018, 7, 16, 6, 6, 23, tzinfo=UTC)


def test_the_imagery_acquisition_time_comes_before_the_tiff_tag() -> None:
    found = _acquired("rio-cogeo/dataset_namespace_metadata.tif")
    assert found == datetime(2011, 5, 1, 13, 0, tzinfo=UTC)


def test_a_given_datetime_wins_over_the_file() -> None:
    given = datetime(2000, 1, 1, tzinfo=UTC)
    assert _acquired("rio-tiler/cog_gcps.tif", given=given) == given


def test_provider_metadata_wins_over_the_file() -> None:
    provided = datetime(2001, 2, 3, tzinfo=UTC)
    assert _acquired("rio-tiler/cog_gcps.tif", provided=provided) == provided


def test_a_raster_without_any_datetime_asks_for_one() -> None:
    with pytest.raises(MissingDatetime, match="give the item's datetime"):
        _acquired("rasterio/byte.tif")


def test_a_tiff_datetime_with_dashes_is_accepted() -> None:
    expected = datetime(2023, 10, 30, 11, 37, 13, tzinfo=UTC)
    assert parse_tiff_datetime("2023-10-30 11:37:13") == expected
