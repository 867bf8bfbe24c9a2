"""Reads on PostgreSQL hot standbys, writes on the primary.

``ReplicaSet`` holds the primary's engine and one engine per standby, and a monitor task
that checks them every ``check_seconds``:

* the primary's WAL insert position is sampled (time, LSN) each round;
* each standby reports ``pg_is_in_recovery()`` and ``pg_last_wal_replay_lsn()``; its lag is
  the age of the oldest primary sample it has not replayed (0 when it has replayed the
  newest). A standby is *in rotation* while its last check passed within
  ``check_seconds + check_timeout_seconds`` and its lag is at most ``max_lag_seconds``; a
  lost, stalled, promoted or lagging standby leaves the rotation and comes back at the
  first check it passes again. Lag is measured against our own samples, not
  ``pg_last_xact_replay_timestamp()``, so an idle primary does not look like a lag.

Read-your-writes: a :class:`ReadScope` (a context variable the service sets per request)
learns of every data-changing statement run on the primary's engine; after one, the
scope's reads go to the primary. A caller that wrote in an earlier request brings the
time of that write (``wrote_at``, carried between requests and processes by the service):
its reads go to a standby only once that standby has replayed a primary sample taken
after that time (so past the commit), else to the primary. Marks older than
:attr:`ReplicaSet.read_your_writes_seconds` are no longer needed: by then the lag bound
alone guarantees it. Without a scope (command line, workers) reads follow the rotation.

No standby configured: every session is on the primary, as without this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import re
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from catalog.db.engine import create_engine

log = logging.getLogger(__name__)

PRIMARY = "primary"

# Statements that change data or schema; a CTE may hide one behind WITH. Leading SQL
# comments (statement marks) are skipped.
_WRITE = re.compile(
    r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*"
    r"(?:INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE|CREATE|ALTER|DROP|REFRESH|"
    r"WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b)",
    re.IGNORECASE | re.DOTALL,
)


def is_write(statement: str) -> bool:
    """Whether ``statement`` changes data or schema (what makes a caller a writer)."""
    return _WRITE.match(statement) is not None


@dataclass
class ReadScope:
    """Where one unit of work (an HTTP request) may read: ``wrote_at`` (seconds since the
    epoch) is when its caller last wrote, if recently; ``wrote`` turns true at its first
    data-changing statement on the primary, and from then on it reads there."""

    wrote_at: float | None = None
    wrote: bool = False


_scope: contextvars.ContextVar[ReadScope | None] = contextvars.ContextVar(
    "stacql_read_scope", default=None
)


@contextlib.contextmanager
def read_scope(wrote_at: float | None = None) -> Iterator[ReadScope]:
    """A :class:`ReadScope` for the code run inside (tasks it starts share it)."""
    scope = ReadScope(wrote_at=wrote_at)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> ReadScope | None:
    """The read scope of the running unit of work, if any."""
    return _scope.get()


@dataclass
class Standby:
    """One hot standby: its engine and what its last check found."""

    name: str
    engine: AsyncEngine
    checked_at: float = 0.0
    replay_lsn: int | None = None
    lag_seconds: float | None = None
    reason: str = "not checked yet"
    in_rotation: bool = False

    def usable(self, now: float, fresh_for: float) -> bool:
        """In rotation at the last check, and that check is recent enough to rely on."""
        return self.in_rotation and now - self.checked_at <= fresh_for


@dataclass
class _Samples:
    """The primary's WAL insert positions, oldest first, as (monotonic time, wall-clock
    time, LSN), each time taken before the query that read the LSN."""

    keep_seconds: float
    items: deque[tuple[float, float, int]] = field(default_factory=deque)

    def add(self, at: float, wall: float, lsn: int) -> None:
        self.items.append((at, wall, lsn))
        # Keep the newest sample whatever its age (the primary may be unreachable).
        while len(self.items) > 1 and at - self.items[0][0] > self.keep_seconds:
            self.items.popleft()

    def lag(self, replay_lsn: int, now: float) -> float:
        """Age of the oldest sample beyond ``replay_lsn`` (0: none is)."""
        for at, _, lsn in self.items:
            if lsn > replay_lsn:
                return max(0.0, now - at)
        return 0.0

    def first_after(self, wall: float) -> int | None:
        """The LSN of the first sample taken after ``wall``: every commit that returned
        before then is at or below it (None: no such sample yet)."""
        for _, taken, lsn in self.items:
            if taken > wall:
                return lsn
        return None


def parse_lsn(value: str) -> int:
    """A PostgreSQL ``pg_lsn`` (``16/B374D848``) as a byte position."""
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class ReplicaSet:
    """The primary and its hot standbys, which a read goes to, and their health.

    ``max_lag_seconds`` bounds the replay lag of a standby in rotation, ``check_seconds``
    is the interval of checks and ``check_timeout_seconds`` the time one may take;
    ``clock_skew_seconds`` is how far the clocks of the processes that carry write times
    to each other may disagree."""

    def __init__(
        self,
        primary: AsyncEngine,
        standbys: dict[str, AsyncEngine] | None = None,
        *,
        max_lag_seconds: float = 2.0,
        check_seconds: float = 0.5,
        check_timeout_seconds: float = 1.0,
        clock_skew_seconds: float = 0.25,
    ) -> None:
        self.primary = primary
        self.standbys = [Standby(name, engine) for name, engine in (standbys or {}).items()]
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self.check_timeout_seconds = check_timeout_seconds
        self.clock_skew_seconds = clock_skew_seconds
        self.reads: Counter[str] = Counter()
        self._samples = _Samples(keep_seconds=self.read_your_writes_seconds + 5 * check_seconds)
        self._bound: dict[AsyncEngine, AsyncEngine] = {}
        self._next = itertools.count()
        self._monitor: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._checked = asyncio.Event()
        event.listen(primary.sync_engine, "before_cursor_execute", _note_write)
        for standby in self.standbys:
            event.listen(standby.engine.sync_engine, "handle_error", self._lost(standby))

    @property
    def _round_seconds(self) -> float:
        # The longest a round of checks takes, sleep included.
        return self.check_seconds + 2 * self.check_timeout_seconds

    @property
    def read_your_writes_seconds(self) -> float:
        """How long a caller's write time is worth carrying: after that, any standby in
        rotation has replayed the write (its lag is bounded by ``max_lag_seconds`` as of
        a check at most a round old, against samples at most a round apart)."""
        return self.max_lag_seconds + 2 * self._round_seconds + self.clock_skew_seconds

    def engine_for_read(self) -> AsyncEngine:
        """The engine the next read goes to: a standby in rotation (round robin) that has
        what the current scope must see, else the primary."""
        if not self.standbys:
            return self._count(PRIMARY, self.primary)
        self._ensure_monitor()
        scope = _scope.get()
        need = 0
        if scope is not None:
            if scope.wrote:
                return self._count(PRIMARY, self.primary)
            if scope.wrote_at is not None:
                sample = self._samples.first_after(scope.wrote_at + self.clock_skew_seconds)
                if sample is None:
                    return self._count(PRIMARY, self.primary)
                need = sample
        usable = [s for s in self._usable() if s.replay_lsn is not None and s.replay_lsn >= need]
        if not usable:
            return self._count(PRIMARY, self.primary)
        standby = usable[next(self._next) % len(usable)]
        return self._count(standby.name, standby.engine)

    def in_rotation(self) -> list[str]:
        """Names of the standbys reads may go to now."""
        return [s.name for s in self._usable()]

    def _usable(self) -> list[Standby]:
        # A verdict older than a round and its slack is not relied on.
        mono, fresh_for = time.monotonic(), self._round_seconds + self.check_seconds
        return [s for s in self.standbys if s.usable(mono, fresh_for)]

    def _count(self, name: str, engine: AsyncEngine) -> AsyncEngine:
        self.reads[name] += 1
        return engine

    def autocommit(self, engine: AsyncEngine) -> AsyncEngine:
        """``engine`` running each statement in autocommit (made once per engine)."""
        bound = self._bound.get(engine)
        if bound is None:
            bound = self._bound[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
        return bound

    async def check(self) -> None:
        """One round of checks: a primary sample, then every standby."""
        await self._sample_primary()
        await asyncio.gather(*(self._check_standby(s) for s in self.standbys))
        self._checked.set()

    async def wait_checked(self) -> None:
        """Until a round of checks after this call has finished."""
        self._ensure_monitor()
        self._checked.clear()
        await self._checked.wait()

    async def start(self) -> None:
        """Check once, then keep checking in the background."""
        if self.standbys:
            await self.check()
            self._ensure_monitor()

    async def close(self) -> None:
        """Stop the checks and close every engine's connections."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._monitor
            self._monitor = None
        for standby in self.standbys:
            await standby.engine.dispose()

    def _ensure_monitor(self) -> None:
        loop = asyncio.get_running_loop()
        if self._monitor is not None and not self._monitor.done() and self._loop is loop:
            return
        self._loop = loop
        self._checked = asyncio.Event()
        self._monitor = loop.create_task(self._run(), name="stacql-replica-checks")

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a check must never end the monitor
                log.exception("replica check failed")
            await asyncio.sleep(self.check_seconds)

    async def _sample_primary(self) -> None:
        # The time is taken before the query: the LSN read is at least the position
        # at that time, so every commit before it is at or below the sample.
        at, wall = time.monotonic(), time.time()
        try:
            async with asyncio.timeout(self.check_timeout_seconds):
                async with self.primary.connect() as conn:
                    query = text("SELECT pg_current_wal_insert_lsn()::text")
                    value = (await conn.execute(query)).scalar_one()
        except Exception as exc:  # an unreachable primary leaves the standbys' lag as it was
            log.warning("primary WAL sample failed: %s", exc)
            return
        self._samples.add(at, wall, parse_lsn(value))

    async def _check_standby(self, standby: Standby) -> None:
        try:
            async with asyncio.timeout(self.check_timeout_seconds):
                async with standby.engine.connect() as conn:
                    row = (
                        await conn.execute(
                            text("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                        )
                    ).one()
        except Exception as exc:
            self._verdict(standby, time.monotonic(), None, None, f"unreachable: {exc!r}"[:200])
            return
        now = time.monotonic()
        recovering, replay = row
        if not recovering or replay is None:
            self._verdict(standby, now, None, None, "not a standby (not in recovery)")
            return
        lsn = parse_lsn(replay)
        lag = self._samples.lag(lsn, now)
        reason = (
            ""
            if lag <= self.max_lag_seconds
            else (f"replay lag {lag:.1f} s over {self.max_lag_seconds:g} s")
        )
        self._verdict(standby, now, lsn, lag, reason)

    def _verdict(
        self, standby: Standby, now: float, lsn: int | None, lag: float | None, reason: str
    ) -> None:
        was = standby.in_rotation
        standby.checked_at, standby.replay_lsn, standby.lag_seconds = now, lsn, lag
        standby.in_rotation, standby.reason = not reason, reason
        if was and reason:
            log.warning("standby %s out of rotation: %s", standby.name, reason)
        elif not was and not reason:
            log.info("standby %s in rotation (lag %.2f s)", standby.name, lag or 0.0)

    def _lost(self, standby: Standby) -> Any:
        def on_error(context: Any) -> None:
            # A dropped connection takes the standby out at once, not at the next check.
            if context.is_disconnect and standby.in_rotation:
                standby.in_rotation, standby.reason = False, "connection lost"
                log.warning("standby %s out of rotation: connection lost", standby.name)

        return on_error


def _note_write(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    scope = _scope.get()
    if scope is not None and not scope.wrote and is_write(statement):
        scope.wrote = True


class RoutedSessions(async_sessionmaker[AsyncSession]):
    """A session factory whose sessions are bound, one by one, to the engine
    ``replicas`` chooses for a read (autocommit: one round trip per statement)."""

    def __init__(self, replicas: ReplicaSet) -> None:
        super().__init__(replicas.primary, expire_on_commit=False)
        self.replicas = replicas

    def __call__(self, **local_kw: Any) -> AsyncSession:
        """A session on the engine chosen for this read."""
        if "bind" not in local_kw:
            local_kw["bind"] = self.read_engine()
        return super().__call__(**local_kw)

    def read_engine(self) -> AsyncEngine:
        """The engine chosen for this read, in autocommit."""
        return self.replicas.autocommit(self.replicas.engine_for_read())


def standby_name(url: str) -> str:
    """A standby's name in logs and counters: its host and port (no credentials)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def create_replica_set(
    primary: AsyncEngine,
    standby_urls: list[str],
    *,
    max_lag_seconds: float = 2.0,
    check_seconds: float = 0.5,
    check_timeout_seconds: float = 1.0,
    **engine_options: Any,
) -> ReplicaSet:
    """The primary with one engine per standby URL (made with ``engine_options``, as the
    primary's: pool size, statement timeout...)."""
    standbys = {standby_name(url): create_engine(url, **engine_options) for url in standby_urls}
    return ReplicaSet(
        primary,
        standbys,
        max_lag_seconds=max_lag_seconds,
        check_seconds=check_seconds,
        check_timeout_seconds=check_timeout_seconds,
    )
