"""The property-usage counts of an API process (``catalog.search.usage``), written to the
database now and then, and once more when the process stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search.usage import PropertyUsage

logger = logging.getLogger(__name__)


class UsageFlusher:
    """Flushes ``usage`` every ``seconds`` through ``sessions`` (the primary's) between
    :meth:`start` and :meth:`stop`. A failed write keeps its counts for the next one."""

    def __init__(
        self, usage: PropertyUsage, sessions: async_sessionmaker[AsyncSession], seconds: float
    ) -> None:
        self.usage = usage
        self.sessions = sessions
        self.seconds = seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start flushing in the background (on the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="property-usage flush")

    async def stop(self) -> None:
        """Stop the background flushes and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write the counts now; how many were written (0 when the write failed)."""
        try:
            async with self.sessions() as session:
                return await self.usage.flush(session)
        except Exception:  # the database is down or busy: the counts wait for the next
            logger.warning("property usage counts not written", exc_info=True)
            return 0

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            await self.flush()
