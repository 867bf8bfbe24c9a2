"""A real PostgreSQL hot standby of the test server, made and run by the tests.

``Standby.create()`` lets the primary accept replication connections from 127.0.0.1
(a ``pg_hba.conf`` line added once, then a reload: a fresh machine has none), takes a
base backup with ``pg_basebackup -R`` through a replication slot into a temporary
folder owned by ``postgres``, and starts it with ``pg_ctl`` on a free port. The slot
keeps the WAL the standby still needs while a test has it stopped. ``remove()`` stops
it, deletes the folder and drops the slot (slots left by a killed run are dropped at
the next creation).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.databases import ADMIN_URL, create_migrated_database, drop_database

PG_BIN = Path(os.environ.get("STACQL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
SLOT_PREFIX = "stacql_test_standby_"
HBA_LINE = "host replication all 127.0.0.1/32 trust"
# Settings a hot standby must hold at least at the primary's values.
AT_LEAST_PRIMARY = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


class StandbyUnavailable(RuntimeError):
    """What is missing to run a standby here (the tests skip, saying it)."""


def _admin(sql: str, url: str = ADMIN_URL) -> list[tuple[object, ...]]:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _as_postgres(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = list(argv)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _refuse_a_copy_the_disk_cannot_hold() -> None:
    """The base backup copies every database of the cluster: on a machine holding large
    ones (a 10M-item benchmark), it would fill the disk under the server and its other
    clients. Refused when the copy would take more than half of the free space."""
    [(size,)] = _admin("SELECT sum(pg_database_size(datname))::text FROM pg_database")
    cluster, free = int(str(size)), shutil.disk_usage(tempfile.gettempdir()).free
    if cluster > free // 2:
        raise StandbyUnavailable(
            f"the cluster holds {cluster / 1e9:.1f} GB; a copy would take over half of the"
            f" {free / 1e9:.1f} GB free in {tempfile.gettempdir()}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def allow_replication() -> None:
    """Let 127.0.0.1 open replication connections to the primary (idempotent)."""
    rules = _admin(
        "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
        "AND (address IS NULL OR address = '127.0.0.1' OR address = 'all')"
        " AND type IN ('host', 'hostnossl') AND error IS NULL"
    )
    if rules[0][0]:
        return
    hba = Path(str(_admin("SHOW hba_file")[0][0]))
    try:
        with hba.open("a") as file:
            file.write(f"\n# tests of stacql read replicas\n{HBA_LINE}\n")
    except OSError as exc:
        raise StandbyUnavailable(f"cannot add a replication rule to {hba}: {exc}") from exc
    _admin("SELECT pg_reload_conf()")
    time.sleep(0.5)


def _drop_stale_slots() -> None:
    for (name,) in _admin(
        f"SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE '{SLOT_PREFIX}%' "
        "AND NOT active"
    ):
        with contextlib.suppress(Exception):
            _admin(f"SELECT pg_drop_replication_slot('{name}')")


@dataclass
class Standby:
    """A running hot standby: its folder, port and replication slot."""

    directory: Path
    port: int
    slot: str

    @classmethod
    def create(cls) -> Standby:
        """Back up the primary and start the copy as a hot standby."""
        if not (PG_BIN / "pg_basebackup").exists():
            raise StandbyUnavailable(f"no PostgreSQL binaries in {PG_BIN}")
        if shutil.which("runuser") is None and os.geteuid() == 0:
            raise StandbyUnavailable("running as root without runuser to become postgres")
        _refuse_a_copy_the_disk_cannot_hold()
        allow_replication()
        _drop_stale_slots()
        primary = make_url(ADMIN_URL)
        directory = Path(tempfile.mkdtemp(prefix="stacql-standby-"))
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        directory.chmod(0o700)
        standby = cls(directory, _free_port(), SLOT_PREFIX + uuid.uuid4().hex[:8])
        backup = _as_postgres(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            primary.host or "127.0.0.1",
            "-p",
            str(primary.port or 5432),
            "-U",
            "postgres",
            "-D",
            str(directory / "data"),
            "-R",
            "-X",
            "stream",
            "-C",
            "-S",
            standby.slot,
            "-c",
            "fast",
        )
        if backup.returncode != 0:
            standby.remove()
            raise StandbyUnavailable(f"pg_basebackup failed: {backup.stderr.strip()}")
        standby._configure()
        standby.start()
        return standby

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        """The asyncpg URL of ``database`` on the standby."""
        return (
            make_url(ADMIN_URL)
            .set(drivername="postgresql+asyncpg", port=self.port, database=database)
            .render_as_string(hide_password=False)
        )

    def _configure(self) -> None:
        values = dict(
            _admin(
                "SELECT name, setting FROM pg_settings WHERE name IN ("
                + ", ".join(f"'{name}'" for name in AT_LEAST_PRIMARY)
                + ")"
            )
        )
        lines = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.directory}'",
            "hot_standby = on",
            # Long reads on the standby are not cancelled by the primary's vacuum.
            "hot_standby_feedback = on",
            "shared_buffers = 32MB",
            "logging_collector = off",
            *(f"{name} = {value}" for name, value in values.items()),
        ]
        (self.data / "postgresql.conf").write_text("\n".join(lines) + "\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        (self.data / "pg_ident.conf").write_text("")
        if os.geteuid() == 0:
            for name in ("postgresql.conf", "pg_hba.conf", "pg_ident.conf"):
                shutil.chown(self.data / name, "postgres", "postgres")

    def start(self) -> None:
        """Start the standby and wait until it answers queries."""
        started = _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "log"),
            "-w",
            "-t",
            "120",
            "start",
        )
        if started.returncode != 0:
            log = (self.directory / "log").read_text(errors="replace")[-2000:]
            raise StandbyUnavailable(f"standby did not start: {started.stderr}{log}")

    def catch_up(self, seconds: float = 600) -> None:
        """Wait until the standby has replayed the primary's WAL as it stands now (a
        database just made on the primary is there); fails the test after ``seconds``.
        Another client's bulk load on the same server can put minutes of WAL ahead of
        it."""
        target = _admin("SELECT pg_current_wal_lsn()::text")[0][0]
        local = make_url(ADMIN_URL).set(port=self.port).render_as_string(hide_password=False)
        deadline = time.monotonic() + seconds
        while not _admin(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn", local)[0][0]:
            assert time.monotonic() < deadline, f"the standby did not replay to {target}"
            time.sleep(0.2)

    def stop(self, mode: str = "fast") -> None:
        """Stop the standby (``immediate``: as if it were lost)."""
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop it, delete its folder and drop its slot."""
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
        # The primary's WAL sender may take a moment to let go of the slot.
        for _ in range(20):
            try:
                _admin(f"SELECT pg_drop_replication_slot('{self.slot}')")
                return
            except Exception as exc:
                if "does not exist" in str(exc):
                    return
                time.sleep(0.5)


def running_standby() -> Iterator[Standby]:
    """A module fixture's body: a started standby, removed afterwards; the test skips,
    saying why, where none can run."""
    try:
        made = Standby.create()
    except StandbyUnavailable as exc:
        pytest.skip(f"no hot standby can run here: {exc}")
    yield made
    made.remove()


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> None:
    """Until ``check()`` is true; fails the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


def point_item(collection_id: str, item_id: str) -> dict[str, Any]:
    """A minimal valid STAC item (a point, one datetime)."""
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": item_id,
        "collection": collection_id,
        "links": [],
        "assets": {},
        "geometry": {"type": "Point", "coordinates": [10.0, 45.0]},
        "bbox": [10, 45, 10, 45],
        "properties": {"datetime": "2024-05-01T00:00:00Z"},
    }


@contextlib.asynccontextmanager
async def standby_statements(
    standby: Standby, database: str
) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """A runner of single statements on ``database`` of the standby (outside any replica
    set); on exit the standby replays WAL again, whatever the test paused."""
    from catalog.db import create_engine as create_async_engine

    engine = create_async_engine(standby.url(database), pool_size=1)

    async def run(sql: str) -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()

    try:
        yield run
    finally:
        if (standby.data / "postmaster.pid").exists():
            await run("SELECT pg_wal_replay_resume()")
        await engine.dispose()


# Fixtures a test module imports: one standby and one migrated database per module.


@pytest.fixture(scope="module")
def standby() -> Iterator[Standby]:
    """A hot standby of the test server for the module's tests."""
    yield from running_standby()


@pytest.fixture(scope="module")
def primary_url(standby: Standby) -> Iterator[str]:
    """A migrated database on the primary (made after the standby: it arrives by WAL)."""
    url = create_migrated_database("standby")
    standby.catch_up()
    yield url
    drop_database(url)


@pytest.fixture
async def standby_sql(
    standby: Standby, primary_url: str
) -> AsyncIterator[Callable[[str], Awaitable[Any]]]:
    """Runs single statements on the module's database on the standby."""
    async with standby_statements(standby, primary_url.rsplit("/", 1)[1]) as run:
        yield run
