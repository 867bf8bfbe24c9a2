"""Post-write hooks the composition root injects into the write operations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from catalog.errors import CatalogError

log = logging.getLogger(__name__)

ItemHook = Callable[[dict[str, Any]], Awaitable[list[str]]]
"""Run on each stored item once its transaction is committed; returns the ids of the jobs
it queued (stacql wires the workers' completion rule: an asset in our storage with the
role ``data`` and no projection fields gets its metadata extracted)."""


@dataclass(frozen=True)
class WriteHooks:
    """What runs after a write commits, whichever API made it."""

    after_item_write: ItemHook | None = None

    async def items_written(self, items: Iterable[dict[str, Any]]) -> list[str]:
        """Run ``after_item_write`` on each committed item and return the queued jobs' ids.

        A hook that fails (the queue is down) leaves the items stored: the failure is
        logged, and the job's row records it."""
        if self.after_item_write is None:
            return []
        jobs: list[str] = []
        for item in items:
            try:
                jobs += await self.after_item_write(item)
            except CatalogError as exc:
                log.warning("item %s/%s is stored but its job was not queued: %s",
                            item.get("collection"), item.get("id"), exc)
        return jobs
