"""Webhook notices end to end: items written to the catalog reach a receiver process on
loopback through a real ``stacql worker``, signed, in order, each change exactly once
after the receiver's failures, and nothing once the saved search is gone."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
import shapely.geometry
from redis import Redis
from sqlalchemy import Engine, text

from catalog.access import FetchPolicy, Principal
from catalog.ingest import delete_item, upsert_items
from catalog.operations import SavedSearchOperations
from catalog.saved import SavedSearchInput, SavedSearchRecord
from catalog.stac import normalize_items
from tests.support.paths import STAC_DATA
from tests.support.receiver import Receiver, notice_receiver
from tests.support.worker_process import stacql_worker
from tests.workers.conftest import TEST_REDIS_URL, Sessions, run_with_sessions

NAIP_ITEMS = STAC_DATA / "pgstac/planetary-computer/data/naip/items.ndjson"
QUEUE = "stacql-notify-test"
AREA = (-85.95, 30.9, -85.7, 31.0)
NOWHERE = (10.0, 10.0, 10.1, 10.1)
ALICE = Principal("write", None, "token of 'alice'", subject="alice")
WAIT_S = 60.0


def _naip(count: int) -> list[dict[str, Any]]:
    lines = NAIP_ITEMS.read_bytes().splitlines()[:count]
    return [orjson.loads(line) for line in lines]


def _in_area(doc: dict[str, Any]) -> bool:
    return shapely.geometry.shape(doc["geometry"]).intersects(shapely.box(*AREA))


def _operations(sessions: Sessions) -> SavedSearchOperations:
    return SavedSearchOperations(sessions, FetchPolicy(allow_private=True))


def _save(url: str, name: str, bbox: tuple[float, ...], hook: str) -> SavedSearchRecord:
    data = SavedSearchInput(name, {"bbox": list(bbox)}, hook)
    return run_with_sessions(url, lambda s: _operations(s).create(ALICE, data))


def _write(url: str, docs: list[dict[str, Any]]) -> None:
    async def write(sessions: Sessions) -> None:
        async with sessions() as session, session.begin():
            await upsert_items(session, normalize_items(docs, None))

    run_with_sessions(url, write)


def _delivered(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return [c for c in receiver.calls() if c["path"] == path and c["status"] < 300]


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _reported(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (entry["id"], entry["changed_at"])
        for call in calls for entry in json.loads(call["body"])["items"]
    ]


def _signature_ok(call: dict[str, Any], secret: str) -> bool:
    fields = dict(part.split("=", 1) for part in call["headers"]["X-Stacql-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.{call['body']}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


@pytest.fixture
def notify_db(catalog_db: str, sync_engine: Engine, redis_conn: Redis) -> Iterator[str]:
    """The scratch catalog without saved searches, before and after the test (a webhook
    left behind would queue the writes of later tests)."""
    forget = text(
        "TRUNCATE saved_searches, saved_search_changes, saved_search_deletions CASCADE"
    )
    with sync_engine.begin() as conn:
        conn.execute(forget)
    yield catalog_db
    with sync_engine.begin() as conn:
        conn.execute(forget)


@pytest.fixture
def worker(notify_db: str, redis_conn: Redis, tmp_path: Path) -> Iterator[None]:
    env = {
        "STACQL_FETCH_ALLOW_PRIVATE": "true",  # the receiver is on loopback
        "STACQL_NOTIFY_RETRY_INTERVALS": "[0.5]",
        "STACQL_NOTIFY_POLL_SECONDS": "0.2",
    }
    with stacql_worker(notify_db, TEST_REDIS_URL, QUEUE, tmp_path / "worker.log", env):
        yield


def test_matching_items_reach_the_receiver_once_per_change_after_its_failures(
    notify_db: str, worker: None, tmp_path: Path
) -> None:
    with notice_receiver(tmp_path, failures=2) as receiver:
        area = _save(notify_db, "area", AREA, f"{receiver.url}/area")
        _save(notify_db, "nowhere", NOWHERE, f"{receiver.url}/nowhere")
        docs = _naip(40)
        expected = sorted(d["id"] for d in docs if _in_area(d))
        assert 0 < len(expected) < len(docs)
        _write(notify_db, docs)
        _wait_for(lambda: len(_reported(_delivered(receiver, "/area"))) >= len(expected),
                  "the first notices")

        changed = next(d for d in docs if _in_area(d))
        properties = {**changed["properties"], "gsd": changed["properties"]["gsd"] * 2}
        _write(notify_db, [{**changed, "properties": properties}])
        _wait_for(lambda: len(_reported(_delivered(receiver, "/area"))) > len(expected),
                  "the notice of the change")
        time.sleep(2)  # room for any duplicate to arrive

        calls = receiver.calls()
        delivered = _delivered(receiver, "/area")
        reported = _reported(delivered)
        assert [c["status"] for c in calls[:2]] == [500, 500]
        retried = {call["headers"]["X-Stacql-Notice"] for call in calls[:3]}
        assert len(retried) == 1  # the first notice, sent again until it got through
        assert len(set(reported)) == len(reported)
        assert sorted(item_id for item_id, _ in reported) == sorted([*expected, changed["id"]])
        assert reported[-1][0] == changed["id"]
        notice_ids = [int(c["headers"]["X-Stacql-Notice"]) for c in delivered]
        assert notice_ids == sorted(notice_ids)
        assert all(_signature_ok(call, area.secret) for call in calls if call["path"] == "/area")
        assert not [c for c in calls if c["path"] == "/nowhere"]


def test_a_deleted_saved_search_sends_nothing_more(
    notify_db: str, worker: None, tmp_path: Path
) -> None:
    with notice_receiver(tmp_path) as receiver:
        area = _save(notify_db, "area", AREA, f"{receiver.url}/area")
        docs = [d for d in _naip(40) if _in_area(d)]
        _write(notify_db, docs[:1])
        _wait_for(lambda: bool(_delivered(receiver, "/area")), "the first notice")
        run_with_sessions(notify_db, lambda s: _operations(s).delete(ALICE, str(area.id)))
        _write(notify_db, docs[1:])
        time.sleep(3)
        assert len(_delivered(receiver, "/area")) == 1


def test_the_delivery_log_records_failed_attempts_and_the_delivery(
    notify_db: str, worker: None, tmp_path: Path
) -> None:
    with notice_receiver(tmp_path, failures=2) as receiver:
        area = _save(notify_db, "area", AREA, f"{receiver.url}/area")
        _write(notify_db, [d for d in _naip(40) if _in_area(d)][:1])
        _wait_for(lambda: bool(_delivered(receiver, "/area")), "the notice")
        log = run_with_sessions(
            notify_db, lambda s: _operations(s).deliveries(ALICE, str(area.id))
        )
    assert [(n.status, n.attempts, n.last_status) for n in log] == [("delivered", 3, 204)]


def _delete(url: str, docs: list[dict[str, Any]]) -> None:
    async def delete(sessions: Sessions) -> None:
        async with sessions() as session, session.begin():
            for doc in docs:
                await delete_item(session, doc["collection"], doc["id"])

    run_with_sessions(url, delete)


def _bodies(calls: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [body for call in calls if (body := json.loads(call["body"]))["event"] == event]


def test_a_deleted_matching_item_is_notified_once_signed(
    notify_db: str, worker: None, tmp_path: Path
) -> None:
    with notice_receiver(tmp_path) as receiver:
        area = _save(notify_db, "area", AREA, f"{receiver.url}/area")
        docs = _naip(40)
        inside = [d for d in docs if _in_area(d)]
        outside = next(d for d in docs if not _in_area(d))
        _write(notify_db, docs)
        _wait_for(lambda: len(_reported(_delivered(receiver, "/area"))) >= len(inside),
                  "the notices of the writes")
        _delete(notify_db, [inside[0], outside])
        _wait_for(lambda: bool(_bodies(_delivered(receiver, "/area"), "item.deleted")),
                  "the notice of the deletion")
        time.sleep(2)  # room for any duplicate to arrive

        delivered = _delivered(receiver, "/area")
        deleted = _bodies(delivered, "item.deleted")
        assert len(deleted) == 1
        assert [(e["collection"], e["id"], e["item"]) for e in deleted[0]["items"]] == [
            ("naip", inside[0]["id"], None)
        ]
        assert deleted[0]["saved_search"]["id"] == str(area.id)
        last = delivered[-1]
        assert last["headers"]["X-Stacql-Event"] == "item.deleted"
        assert _signature_ok(last, area.secret)
        changed = _bodies(delivered, "item.changed")
        assert sorted(e["id"] for b in changed for e in b["items"]) == sorted(
            d["id"] for d in inside
        )
        log = run_with_sessions(
            notify_db, lambda s: _operations(s).deliveries(ALICE, str(area.id))
        )
        assert log[0].event == "item.deleted" and log[0].status == "delivered"
