"""Rasters in scientific containers: a one-variable NetCDF is an item placed where
rasterio places it. Containers of several subdatasets are refused naming them: the HDF5
case is in test_item.py (worker) and tests/catalog/test_rasters.py (upload gate); no
several-variable NetCDF is made here (GDAL's netCDF driver copies one variable a file,
and no netCDF4/h5py/scipy writer is installed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.shutil import copy
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

from workers.extract import build_item


def test_a_one_variable_netcdf_is_an_item_with_rasterios_bounds(tmp_path: Path) -> None:
    source = tmp_path / "sst.tif"
    profile = {
        "driver": "GTiff",
        "width": 40,
        "height": 20,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_origin(10.0, 50.0, 0.05, 0.05),
        "nodata": -999.0,
    }
    values = np.full((1, 20, 40), 290.0, dtype="float32")
    values[0, :, :8] = -999.0  # a nodata strip on the west
    with rasterio.open(source, "w", **profile) as ds:
        ds.write(values)
    netcdf = tmp_path / "sst.nc"
    copy(source, netcdf, driver="netCDF", VARIABLE_NAME="sst")
    item = build_item(netcdf, "rasters", datetime=datetime(2020, 1, 1, tzinfo=UTC))
    with rasterio.open(netcdf) as ds:
        assert ds.driver == "netCDF"
        valid = ds.dataset_mask() > 0
        cols = np.flatnonzero(valid.any(axis=0))
        left = ds.transform.c + int(cols[0]) * ds.transform.a
        expected = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
    assert item["bbox"] == pytest.approx([left, *expected[1:]], abs=1e-6)
    band = item["assets"]["data"]["raster:bands"][0]
    assert band["statistics"]["minimum"] == band["statistics"]["maximum"] == 290.0
