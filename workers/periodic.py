"""A worker's companion threads: a task run every few seconds beside the RQ loop, with
its own event loop and a one-connection database pool."""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.db import create_engine, create_sessionmaker
from catalog.errors import CatalogError

log = logging.getLogger(__name__)


class PeriodicTask(threading.Thread):
    """Calls :meth:`tick` every ``interval`` seconds (the first call one interval after
    :meth:`start`) until :meth:`stop`."""

    def __init__(self, name: str, database_url: str, interval: float) -> None:
        super().__init__(name=name, daemon=True)
        self.database_url = database_url
        self.interval = interval
        self.stopped = threading.Event()

    async def tick(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """One pass of the task."""
        raise NotImplementedError

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        engine = create_engine(self.database_url, pool_size=1)
        sessions = create_sessionmaker(engine)
        try:
            while not self.stopped.wait(self.interval):
                await self._tick_logged(sessions)
        finally:
            await engine.dispose()

    async def _tick_logged(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        try:
            await self.tick(sessions)
        except CatalogError as exc:
            log.warning("%s: %s", self.name, exc)
        except Exception:
            # A dead thread would stop this task for the worker's whole life: log the
            # fault and try again at the next tick.
            log.exception("%s failed", self.name)

    def stop(self) -> None:
        """Stop after the current pass."""
        self.stopped.set()
