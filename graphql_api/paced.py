"""Long lists completed a slice at a time, so the event loop serves others meanwhile.

graphql-core completes a list's items one after the other, without awaiting anything
between them: a page of 1,000 items with all their fields kept a worker's event loop
from every other request for over half a second (issue 16). A ``PacedList`` is a list
that graphql-core sees as an async iterable: it hands over ``SLICE`` items, then yields
to the loop before the next slice. Everywhere else it is a plain list.

A slice is only completed in its turn if its fields resolve without awaiting: an async
resolver becomes a task, and graphql-core gathers the tasks of the whole page at the end,
which asyncio runs in one turn of the loop. So the resolvers of item fields that would
await (assets through a dataloader, hrefs through the caller's URL rewriter) answer at
once, through ``now_or_later``, when what they need is there, as it is on a paced page
(``graphql_api.item_search`` loads the page's assets first).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

SLICE = 100
"""Items completed between two turns of the event loop (the pages of most clients fit in
one: those are completed as before, with one dataloader batch for the whole page)."""


class PacedList(list[T]):
    """A list whose async iteration (graphql-core's) pauses for the loop every ``SLICE``."""

    def __aiter__(self) -> AsyncIterator[T]:
        return _paced(self)

    @property
    def is_paced(self) -> bool:
        """Whether completing it will give the loop a turn (it is longer than a slice)."""
        return len(self) > SLICE


def paced(values: Iterable[T]) -> list[T]:
    """``values`` as a list, paced (a ``PacedList``) only when it is longer than a slice:
    graphql-core completes an async iterable item by item through awaits, which costs
    more than the plain loop a list of one slice needs."""
    listed = PacedList(values)
    return listed if listed.is_paced else list(listed)


async def _paced(values: list[T]) -> AsyncIterator[T]:
    for index, value in enumerate(values):
        if index and index % SLICE == 0:
            await asyncio.sleep(0)
        yield value


def now_or_later(value: Any, then: Callable[[Any], R]) -> Any:
    """``then(value)`` at once when ``value`` is not awaitable or is a finished future;
    otherwise an awaitable of it (graphql-core awaits what a resolver returns)."""
    if isinstance(value, asyncio.Future) and value.done():
        return then(value.result())
    if isinstance(value, Awaitable):
        return _then(value, then)
    return then(value)


async def _then(value: Awaitable[Any], then: Callable[[Any], R]) -> R:
    return then(await value)


def now_or_later_all(values: tuple[Any, ...], then: Callable[..., R]) -> Any:
    """``then(*values)`` at once when none of ``values`` is pending (see
    ``now_or_later``); otherwise an awaitable of it."""
    ready = [_ready(value) for value in values]
    if all(ready):
        return then(*(value.result() if isinstance(value, asyncio.Future) else value
                      for value in values))
    return _then_all(values, then)


def _ready(value: Any) -> bool:
    if isinstance(value, asyncio.Future):
        return value.done()
    return not isinstance(value, Awaitable)


async def _then_all(values: tuple[Any, ...], then: Callable[..., R]) -> R:
    return then(*[await value if isinstance(value, Awaitable) else value for value in values])
