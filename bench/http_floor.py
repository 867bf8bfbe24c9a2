"""The HTTP floor under the search mix: what a request costs when the server does nothing.

Issue 14 asks for our p50 within 1.5x of the SQL we send. Part of any p50 is not ours to
cut: the client building the request and parsing the answer (``search_bench.py``'s
``http.client`` and ``json.loads``), loopback TCP, and uvicorn. This measures that part
with the same client, the same uvicorn workers and the same bytes: for each kind of the
peer's mix, the answer our server gives to the kind's first request is captured, and a
server that answers every request with those bytes (reading the request body first)
runs beside ours, in alternating rounds at concurrency 1.

A second server, the driver floor, is the least any Python server sending our SQL could
do: for each request it checks a connection out of an asyncpg pool, sends the very
statement our engine sends for the kind's first request (the same text and values, so
the same prepared statement and plan), reads its rows, and answers with the captured
bytes. It builds no request, renders nothing; it is not run for ``paging``, whose pages
are six different statements.

Printed per kind: the SQL we send (EXPLAIN ANALYZE, planning + execution, as
``bench/scale.py``), the p50 of ours, of the driver floor and of the floor, and the
ratios over the SQL: ours, the driver floor's (where a 1.5x target can be met at all),
and ours less the floor (what the API itself adds).

    .venv/bin/python bench/http_floor.py --database stacql_bench --duration 5 --rounds 3

Run ``bench/ingest.py`` (or ``bench/scale.py``) first: the database holds the ``bench``
collection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import pickle
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the catalog importable
    sys.path.insert(0, str(REPO))

from bench import search_http  # noqa: E402
from bench.scale import (  # noqa: E402
    COLLECTION,
    database_url,
    explain_kinds,
    ours_command,
    request_params,
)
from bench.servers import free_port, serve  # noqa: E402
from catalog.db import create_engine, create_sessionmaker  # noqa: E402
from catalog.db.driver import driver_statement  # noqa: E402
from catalog.search import build_search  # noqa: E402
from catalog.search.engine import sent_page_query  # noqa: E402
from catalog.search.render import item_text_parts  # noqa: E402

BODY_FILE = "STACQL_FLOOR_BODY"
STATEMENT_FILE = "STACQL_FLOOR_STATEMENT"
DSN = "STACQL_FLOOR_DSN"


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app answering every HTTP request with the bytes of ``$STACQL_FLOOR_BODY``."""
    if scope["type"] != "http":
        return
    more = True
    while more:  # the request's body is read, as our server reads it
        message = await receive()
        more = message.get("more_body", False)
    body = _read(os.environ[BODY_FILE])
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/geo+json"),
        (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})


@cache
def _read(path: str) -> bytes:
    """A file's bytes, read once per server process."""
    return Path(path).read_bytes()


@cache
def _statement_of(path: str) -> tuple[str, list[Any]]:
    """The (SQL, arguments) pickled in a file, read once per server process."""
    return pickle.loads(_read(path))


async def driver_floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that runs the statement of ``$STACQL_FLOOR_STATEMENT`` on a pooled
    asyncpg connection for every HTTP request, then answers as :func:`floor_app`."""
    if scope["type"] != "http":
        return
    sql, arguments = _statement_of(os.environ[STATEMENT_FILE])
    pool = await _pool()
    async with pool.acquire() as connection:
        rows = await connection.fetch(sql, *arguments)
    if not rows:
        raise RuntimeError("the statement found nothing")  # it found a page before
    await floor_app(scope, receive, send)


_POOL: list[Any] = []


async def _pool() -> Any:
    if not _POOL:
        # No reset on release: asyncpg's default costs a round trip, which our pool does not
        # make either.
        _POOL.append(await asyncpg.create_pool(os.environ[DSN], min_size=1, max_size=4,
                                               reset=_kept_as_is))
    return _POOL[0]


async def _kept_as_is(connection: Any) -> None:
    """A pooled connection goes back as it is (it ran one read, in autocommit)."""


async def _sent_statement(database: str, sb: Any, kind: str, plan: Any) -> tuple[str, list[Any]]:
    """The SQL text and positional values our engine sends for ``kind``'s first request."""
    body = sb.build_pool(kind, plan.seed, 1, plan.collection, plan.limit)[0][2]
    engine = create_engine(database_url(database), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            request = build_search(**request_params(kind, body))
            query = await sent_page_query(session, request, item_text_parts())
            sent = driver_statement(query.statement, engine.dialect)
            if sent is None:
                raise SystemExit(f"{kind}: our statement is not sent by the driver")
            return sent.sql, sent.arguments(query.values)
    finally:
        await engine.dispose()


def _floor_command(port: int, workers: int, app: str = "floor_app") -> list[str]:
    return [sys.executable, "-m", "uvicorn", f"bench.http_floor:{app}", "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log"]


def _captured(sb: Any, base_url: str, kind: str, plan: search_http.Plan) -> bytes:
    """The bytes our server answers the first request of ``kind``'s pool with."""
    method, path, body = sb.build_pool(kind, plan.seed, 1, plan.collection, plan.limit)[0]
    client = sb.Client(base_url, plan.timeout)
    try:
        client.request(method, path, body)  # warm: the answer is read again below
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        client.conn.request(method, path, body=payload, headers=headers)
        response = client.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"{kind}: {response.status} {data[:200]!r}")
        return data
    finally:
        client.close()


def _body_env(
    scratch: str, kind: str, name: str, captured: bytes, ours_port: int, port: int
) -> dict[str, str]:
    """The environment of a server answering with ``captured``, its links on ``port``."""
    path = Path(scratch) / f"{kind}.{name}.json"
    path.write_bytes(captured.replace(f"127.0.0.1:{ours_port}".encode(),
                                      f"127.0.0.1:{port}".encode()))
    return {BODY_FILE: str(path)}


def _ms(value: float | None, width: int = 0) -> str:
    return f"{'-' if value is None else f'{value:.2f}':>{width}}"


def main(argv: list[str] | None = None) -> int:
    """Measure ours and the floor per kind; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="stacql_bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--types", default=",".join(search_http.DEFAULT_TYPES))
    parser.add_argument("--explain", type=int, default=30, help="requests per kind explained")
    args = parser.parse_args(argv)
    sb = search_http.load_peer_bench()
    plan = search_http.Plan(
        types=tuple(t for t in args.types.split(",") if t), levels=(1,),
        duration=args.duration, warmup=args.warmup_seconds, rounds=args.rounds,
        seed=1234, collection=COLLECTION, limit=10, verify=0,
    )
    ours_port = free_port()
    ours_env = {"STACQL_DATABASE_URL": database_url(args.database),
                "STACQL_API_ACCESS_LOG": "false"}
    p50: dict[str, tuple[float, float | None, float]] = {}
    with (
        serve(ours_command(ours_port, args.workers), ours_env,
              f"http://127.0.0.1:{ours_port}/") as ours_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        ours = search_http.Runs("ours", ours_url.rstrip("/"))
        for kind in plan.types:
            floor_port, driver_port = free_port(), free_port()
            captured = _captured(sb, ours.base_url, kind, plan)
            floor_env = _body_env(scratch, kind, "floor", captured, ours_port, floor_port)
            runs = [ours]
            with (
                serve(_floor_command(floor_port, args.workers), floor_env,
                      f"http://127.0.0.1:{floor_port}/") as floor_url,
                contextlib.ExitStack() as stack,
            ):
                floor = search_http.Runs("floor", floor_url.rstrip("/"))
                driver = None
                if kind != "paging":
                    statement = Path(scratch) / f"{kind}.sql.pickle"
                    statement.write_bytes(pickle.dumps(asyncio.run(
                        _sent_statement(args.database, sb, kind, plan))))
                    driver_env = {
                        **_body_env(scratch, kind, "driver", captured, ours_port, driver_port),
                        STATEMENT_FILE: str(statement),
                        DSN: f"postgresql://root@127.0.0.1:5432/{args.database}",
                    }
                    driver_url = stack.enter_context(serve(
                        _floor_command(driver_port, args.workers, "driver_floor_app"),
                        driver_env, f"http://127.0.0.1:{driver_port}/"))
                    driver = search_http.Runs("driver", driver_url.rstrip("/"))
                    runs.append(driver)
                runs.append(floor)
                search_http.run(sb, dataclasses.replace(plan, types=(kind,)), runs)
            p50[kind] = (ours.median(kind, 1, "p50_ms"),
                         driver.median(kind, 1, "p50_ms") if driver else None,
                         floor.median(kind, 1, "p50_ms"))
            print(f"{kind}: {len(captured)} bytes, p50 ours {p50[kind][0]:.2f} ms, "
                  f"driver floor {_ms(p50[kind][1])}, floor {p50[kind][2]:.2f} ms",
                  file=sys.stderr, flush=True)
    sql = asyncio.run(explain_kinds(args.database, list(plan.types), args.explain))
    print(f"\n{'kind':22} {'SQL ms':>7} {'ours':>6} {'driver floor':>13} {'floor':>6} "
          f"{'ours/SQL':>9} {'driver floor/SQL':>17} {'(ours-floor)/SQL':>17}")
    for kind in plan.types:
        ours_ms, driver_ms, floor_ms = p50[kind]
        driver_ratio = f"{driver_ms / sql[kind]:17.2f}" if driver_ms else f"{'-':>17}"
        print(f"{kind:22} {sql[kind]:7.2f} {ours_ms:6.2f} {_ms(driver_ms, 13)} "
              f"{floor_ms:6.2f} {ours_ms / sql[kind]:9.2f} {driver_ratio} "
              f"{(ours_ms - floor_ms) / sql[kind]:17.2f}")
    print(f"\nc=1, {args.workers} uvicorn workers each, medians of {args.rounds} alternating "
          f"rounds of {args.duration:g} s; paging: the first page and 5 next pages (no "
          f"driver floor: six statements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
