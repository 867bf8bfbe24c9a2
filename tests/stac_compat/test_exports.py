"""``/exports``: a search exported by a real worker, downloaded under the access rules."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from stac_geoparquet.arrow import stac_table_to_items

from catalog.access import set_private
from catalog.ingest import load_path, upsert_collection
from catalog.temporal import parse_rfc3339
from tests.support.app_client import app_client
from tests.support.exports import (
    comparable,
    export_settings,
    key_of,
    run_worker_burst,
    searched,
    worker_env,
)
from tests.support.loading import placeholder_collection
from tests.support.paths import STAC_DATA
from tests.support.worker_process import stacql_worker

NAIP_ITEMS = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"


@pytest.fixture
async def catalog(scratch_sessions, tmp_path: Path):
    """The NAIP items, and one item of the private collection ``secret``."""
    lines = NAIP_ITEMS.read_bytes().splitlines()
    naip = [orjson.loads(line) for line in lines[:2]]
    source = tmp_path / "items.ndjson"
    source.write_bytes(b"\n".join(orjson.dumps(i) for i in [
        *naip, {**naip[0], "id": "hidden", "collection": "secret"}
    ]))
    async with scratch_sessions() as session, session.begin():
        await upsert_collection(session, orjson.loads(NAIP_ITEMS.with_name("collection.json")
                                                      .read_bytes()))
        await upsert_collection(session, placeholder_collection("secret"))
    assert (await load_path(scratch_sessions, source)).ok
    async with scratch_sessions() as session, session.begin():
        await set_private(session, "secret", True)
    return scratch_sessions, [i["id"] for i in naip]


def parquet_items(body: bytes) -> list[dict]:
    return list(stac_table_to_items(pq.read_table(io.BytesIO(body))))


async def test_exports_run_on_the_workers_and_only_readers_download_them(
    catalog, scratch_url: str, tmp_path: Path
) -> None:
    sessions, naip_ids = catalog
    settings = export_settings(scratch_url, tmp_path / "assets")
    alice = {"X-API-Key": await key_of(sessions, "alice", "read")}
    bob = {"X-API-Key": await key_of(sessions, "bob", "read", "naip")}
    carol = {"X-API-Key": await key_of(sessions, "carol", "read")}
    search = {"ids": ["hidden", *naip_ids], "limit": 1}
    async with app_client(settings) as (_, client):
        refused = await client.post("/exports", json={"search": search})
        assert (refused.status_code, refused.json()["code"]) == (401, "UNAUTHORIZED")
        for body in ({"search": {"filter": "gsd <"}}, {"serch": search},
                     {"search": search, "format": "shapefile"}, {"search": [1]}):
            response = await client.post("/exports", json=body, headers=alice)
            assert response.status_code == 400, (body, response.text)

        started = await client.post("/exports", json={"search": search}, headers=alice)
        assert started.status_code == 202, started.text
        export = started.json()
        assert (export["status"], export["format"]) == ("queued", "geoparquet")
        location = started.headers["location"]
        assert location == f"http://stacql.test/exports/{export['id']}"
        early = await client.get(f"/exports/{export['id']}/file", headers=alice)
        assert early.status_code == 409, early.text
        bobs = (await client.post("/exports", json={"search": search, "format": "ndjson"},
                                  headers=bob)).json()

        await run_worker_burst(settings)

        done = (await client.get(location, headers=alice)).json()
        assert (done["status"], done["progress"], done["items"]) == ("finished", 1.0, 3)
        assert sorted(done["collections"]) == ["naip", "secret"]
        enclosure = next(link for link in done["links"] if link["rel"] == "enclosure")
        assert enclosure["type"] == "application/vnd.apache.parquet"
        file = await client.get(f"/exports/{export['id']}/file", headers=alice)
        assert file.status_code == 200 and len(file.content) == done["bytes"]
        expected = await searched(sessions, None, ids=search["ids"])
        assert [comparable(i) for i in parquet_items(file.content)] == [
            comparable(i) for i in expected
        ]
        # The enclosure carries a signed grant: a browser follows it without headers.
        assert (await client.get(enclosure["href"])).content == file.content

        # bob may not read `secret`: alice's export does not exist for him; carol may.
        assert (await client.get(location, headers=bob)).status_code == 404
        assert (await client.get(f"{location}/file", headers=bob)).status_code == 404
        assert (await client.get(f"{location}/file")).status_code == 404
        assert (await client.get(f"{location}/file", headers=carol)).content == file.content

        # bob's own export of the same search holds only what he may read.
        mine = await client.get(f"/exports/{bobs['id']}/file", headers=bob)
        assert mine.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in mine.content.splitlines()]
        assert [i["id"] for i in lines] == [
            i["id"] for i in await searched(sessions, frozenset({"naip"}), ids=search["ids"])
        ]
        assert "hidden" not in [i["id"] for i in lines] and len(lines) == 2
        listed = (await client.get("/exports", headers=bob)).json()["exports"]
        assert [e["id"] for e in listed] == [bobs["id"]]
        assert (await client.get("/exports")).json() == {"exports": []}
        missing = await client.get("/exports/not-a-uuid", headers=alice)
        assert missing.status_code == 400


async def _wait_past(moment: str) -> None:
    left = (parse_rfc3339(moment) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(left, 0) + 0.2)


async def test_a_running_worker_removes_expired_files_with_no_new_export(
    catalog, scratch_url: str, tmp_path: Path
) -> None:
    sessions, naip_ids = catalog
    store = tmp_path / "assets"
    settings = export_settings(scratch_url, store, retention_seconds=3, sweep_seconds=1)
    alice = {"X-API-Key": await key_of(sessions, "alice", "read")}
    async with app_client(settings) as (_, client):
        made = (await client.post("/exports", json={"search": {"ids": naip_ids}},
                                  headers=alice)).json()
        await run_worker_burst(settings)
        done = (await client.get(f"/exports/{made['id']}", headers=alice)).json()
        stored = store / f"_exports/{made['id']}.parquet"
        assert done["status"] == "finished" and stored.is_file(), done
        await _wait_past(done["expires"])
        assert stored.is_file()  # nothing removes files without a worker running

        log = tmp_path / "worker.log"
        with stacql_worker(scratch_url, settings.redis.url, settings.workers.queues[0], log,
                           worker_env(settings)):
            for _ in range(120):
                if not stored.exists():
                    break
                await asyncio.sleep(0.5)
            assert not stored.exists(), log.read_text(errors="replace")
            marked = (await client.get(f"/exports/{made['id']}", headers=alice)).json()
            assert (marked["status"], marked["expired"]) == ("finished", True)
            assert marked["message"].startswith("expired")


async def test_export_files_expire_then_answer_410_and_leave_the_store(
    catalog, scratch_url: str, tmp_path: Path
) -> None:
    sessions, naip_ids = catalog
    store = tmp_path / "assets"
    # Long enough that a loaded machine still downloads the file before it expires.
    settings = export_settings(scratch_url, store, retention_seconds=10)
    alice = {"X-API-Key": await key_of(sessions, "alice", "read")}
    search = {"ids": naip_ids}
    async with app_client(settings) as (_, client):
        first = (await client.post("/exports", json={"search": search}, headers=alice)).json()
        await run_worker_burst(settings)
        done = (await client.get(f"/exports/{first['id']}", headers=alice)).json()
        assert (done["status"], done["expired"]) == ("finished", False)
        kept_for = parse_rfc3339(done["expires"]) - parse_rfc3339(done["updated"])
        assert abs(kept_for.total_seconds() - 10) < 1, done
        stored = store / f"_exports/{first['id']}.parquet"
        assert stored.is_file()
        assert (await client.get(f"/exports/{first['id']}/file", headers=alice)).status_code == 200

        # Past its expiry the file is refused at once, before any cleanup ran.
        await _wait_past(done["expires"])
        gone = await client.get(f"/exports/{first['id']}/file", headers=alice)
        assert gone.status_code == 410, gone.text
        assert gone.json()["code"] == "EXPORT_EXPIRED"
        assert first["id"] in gone.json()["description"]
        shown = (await client.get(f"/exports/{first['id']}", headers=alice)).json()
        assert shown["expired"] is True
        assert "enclosure" not in [link["rel"] for link in shown["links"]]
        assert stored.is_file()

        # The next export's job removes it and marks its row. Its worker keeps files
        # longer, so the new file is still there to download on a loaded machine.
        second = (await client.post("/exports", json={"search": search}, headers=alice)).json()
        await run_worker_burst(settings.model_copy(
            update={"exports": settings.exports.model_copy(update={"retention_seconds": 600})}
        ))
        assert not stored.exists()
        assert (store / f"_exports/{second['id']}.parquet").is_file()
        marked = (await client.get(f"/exports/{first['id']}", headers=alice)).json()
        assert (marked["status"], marked["expired"]) == ("finished", True)
        assert marked["message"].startswith("expired")
        again = await client.get(f"/exports/{first['id']}/file", headers=alice)
        assert again.status_code == 410
        latest = await client.get(f"/exports/{second['id']}/file", headers=alice)
        assert latest.status_code == 200
