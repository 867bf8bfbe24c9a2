"""``exportItems``: the ``items`` arguments exported by a real worker."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
from stac_geoparquet.arrow import stac_table_to_items

from catalog.ingest import load_path
from tests.graphql_api.conftest import GraphQL
from tests.support.app_client import app_client
from tests.support.exports import comparable, export_settings, key_of, run_worker_burst, searched
from tests.support.paths import STAC_DATA

NAIP = STAC_DATA / "pgstac/planetary-computer/data/naip"
EXPORT = """mutation($c: [String!], $f: JSON, $b: [Float!], $format: ExportFormat!) {
  exportItems(collections: $c, filter: $f, bbox: $b, format: $format) { id kind status } }"""
JOB = "query($id: ID!) { job(id: $id) { status progress error result } }"


async def test_export_items_writes_the_items_the_query_finds(
    scratch_sessions, scratch_url: str, tmp_path: Path
) -> None:
    assert (await load_path(scratch_sessions, NAIP)).ok
    settings = export_settings(scratch_url, tmp_path / "assets")
    headers = {"X-API-Key": await key_of(scratch_sessions, "analyst", "read")}
    arguments = {"c": ["naip"], "f": {"op": "=", "args": [{"property": "naip:state"}, "al"]},
                 "b": [-88.5, 30.0, -86.5, 32.0]}
    async with app_client(settings) as (app, client):
        anonymous = await GraphQL(app, client).post(EXPORT, **arguments, format="NDJSON")
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        client.headers.update(headers)
        gql = GraphQL(app, client)
        bad = await gql.post(EXPORT, **{**arguments, "f": {"op": "no-such-op", "args": []}},
                             format="GEOPARQUET")
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        job = (await gql.data(EXPORT, **arguments, format="GEOPARQUET"))["exportItems"]
        assert (job["kind"], job["status"]) == ("export_items", "QUEUED")
        await run_worker_burst(settings)
        done = (await gql.data(JOB, id=job["id"]))["job"]
        assert (done["status"], done["progress"]) == ("FINISHED", 1.0), done["error"]
        file = await client.get(f"/exports/{job['id']}/file")
        assert file.status_code == 200
        # The job row names its owner and search: not for anonymous callers.
        del client.headers["X-API-Key"]
        assert (await GraphQL(app, client).data(JOB, id=job["id"]))["job"] is None
    expected = await searched(
        scratch_sessions, collections=["naip"], bbox=arguments["b"],
        filter=arguments["f"], filter_lang="cql2-json",
    )
    assert 0 < len(expected) == done["result"]["items"]
    got = stac_table_to_items(pq.read_table(io.BytesIO(file.content)))
    assert [comparable(i) for i in got] == [comparable(i) for i in expected]
