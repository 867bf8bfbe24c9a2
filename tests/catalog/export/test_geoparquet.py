"""The ndjson → stac-geoparquet conversion: one schema fixed before writing, for items
whose members change late in the file, written one row group per chunk."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
from stac_geoparquet.arrow import parse_stac_ndjson_to_parquet

from catalog.export.geoparquet import infer_schema, ndjson_to_geoparquet
from tests.support.exports import comparable, geoparquet_items
from tests.support.paths import STAC_DATA

NAIP_ITEMS = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"


def _varied(count: int) -> list[dict[str, Any]]:
    """NAIP items whose last ones carry what no earlier one has: a new property, an
    integer property turned fractional, a new asset member, a MultiPolygon."""
    items = [orjson.loads(line) for line in NAIP_ITEMS.read_bytes().splitlines()[:count]]
    last = items[-1]
    last["properties"]["stacql:late"] = {"note": "only here", "levels": [1, 2.5]}
    items[-2]["properties"]["gsd"] = 0.25
    items[-3]["properties"]["gsd"] = 2
    next(iter(last["assets"].values()))["file:size"] = 123
    polygon = items[-4]["geometry"]
    items[-4]["geometry"] = {"type": "MultiPolygon", "coordinates": [polygon["coordinates"]]}
    return items


def _write(items: list[dict[str, Any]], path: Path) -> Path:
    path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for item in items))
    return path


def test_items_that_change_late_are_all_kept_in_chunks_of_one_row_group(
    tmp_path: Path,
) -> None:
    items = _varied(250)
    source = _write(items, tmp_path / "items.ndjson")
    ours = tmp_path / "ours.parquet"
    seen: list[int] = []
    ndjson_to_geoparquet(source, ours, chunk_size=40, progress=seen.append)

    file = pq.ParquetFile(ours)
    assert file.metadata.num_row_groups == math.ceil(len(items) / 40)
    assert seen[-1] == len(items) and seen == sorted(seen)
    assert [comparable(i) for i in geoparquet_items(ours)] == [comparable(i) for i in items]
    assert "stacql:late" in file.schema_arrow.names

    # The library's own full inference pass and conversion give the same rows.
    reference = tmp_path / "reference.parquet"
    parse_stac_ndjson_to_parquet(source, reference, chunk_size=40)
    assert pq.read_table(ours).equals(pq.read_table(reference))


def test_the_schema_is_the_one_of_a_full_inference_pass(tmp_path: Path) -> None:
    from stac_geoparquet.arrow._schema.models import InferredSchema

    source = _write(_varied(300), tmp_path / "items.ndjson")
    full = InferredSchema()
    full.update_from_json(source, chunk_size=50)
    full.manual_updates()
    assert infer_schema(source, chunk_size=50).equals(full.inner)
