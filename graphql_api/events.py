"""PostgreSQL LISTEN/NOTIFY fanned out to the subscriptions of this process.

One connection listens for the whole process; every subscriber gets its own queue of
payloads. Writers need not know about us: triggers (migration ``0003_change_notify``)
notify ``stacql_items`` after each statement that writes items, and ``stacql_jobs`` with
the id of each job row written, whoever writes them (API, worker, CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

ITEMS_CHANNEL = "stacql_items"
JOBS_CHANNEL = "stacql_jobs"


def _dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False
    )


class ItemEvents:
    """Notifications from the database, fanned out to asyncio queues."""

    def __init__(self, database_url: str) -> None:
        self._dsn = _dsn(database_url)
        self._connection: asyncpg.Connection | None = None
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {
            ITEMS_CHANNEL: set(), JOBS_CHANNEL: set(),
        }
        self._lock = asyncio.Lock()

    def _deliver(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        for queue in self._subscribers.get(channel, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(payload)

    async def _ensure_listening(self) -> None:
        async with self._lock:
            if self._connection is not None and not self._connection.is_closed():
                return
            connection = await asyncpg.connect(self._dsn)
            for channel in self._subscribers:
                await connection.add_listener(channel, self._deliver)
            self._connection = connection

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[str]]:
        """A queue receiving the payloads of ``channel`` while the context is open.

        A full queue drops payloads: subscribers re-read the database on wake-up anyway,
        so a dropped duplicate loses nothing.
        """
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=256)
        await self._ensure_listening()
        self._subscribers[channel].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[channel].discard(queue)

    async def close(self) -> None:
        """Stop listening (at application shutdown)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None


async def wait_for(queue: asyncio.Queue[str], timeout: float) -> str | None:
    """The next payload, or None after ``timeout`` seconds (callers then poll anyway)."""
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return None
