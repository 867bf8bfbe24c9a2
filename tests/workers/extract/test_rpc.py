"""A raster georeferenced only by RPCs (as satellite L1 products ship): its footprint
goes through the RPC transformer, checked against rasterio's RPCTransformer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.transform import RPCTransformer

from tests.support.paths import RASTERS
from workers.extract import build_item

WHEN = datetime(2019, 9, 1, tzinfo=UTC)


def test_an_rpc_raster_footprint_follows_its_rpcs(tmp_path: Path) -> None:
    with rasterio.open(RASTERS / "rasterio/RGB.byte.rpc.vrt") as source:
        rpcs, width, height = source.rpcs, source.width, source.height
    path = tmp_path / "scene.tif"
    values = np.zeros((1, height, width), dtype="uint8")
    values[:, 100:500, 200:600] = 9  # valid data: a rectangle inside a nodata collar
    with rasterio.open(
        path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
        nodata=0, rpcs=rpcs,
    ) as ds:
        ds.write(values)
    item = build_item(path, "scenes", datetime=WHEN)
    assert item["properties"]["proj:code"] is None
    footprint = shapely.geometry.shape(item["geometry"])
    # Reference: the corners and edge midpoints of the valid rectangle, through RPCs.
    cols = np.array([200, 600, 600, 200, 400, 600, 400, 200])
    rows = np.array([100, 100, 500, 500, 100, 300, 500, 300])
    lon, lat = RPCTransformer(rpcs).xy(rows, cols, offset="ul")
    assert shapely.covers(footprint.buffer(1e-7), shapely.points(lon, lat)).all()
    reference = shapely.Polygon(zip(lon[:4], lat[:4], strict=True))
    assert footprint.symmetric_difference(reference).area < 0.02 * reference.area
