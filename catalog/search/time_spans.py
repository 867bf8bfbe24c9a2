"""How far the items' time ranges reach from their ``datetime``, and the bounds on
``datetime`` that a time window implies with it (migration 0022)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.types import Interval as IntervalType

from catalog.db.driver import Reader, fetch_mappings
from catalog.temporal import Interval

_SPANS = (
    "SELECT coalesce(max(item_time_lead), '0') AS lead, "
    "coalesce(max(item_time_lag), '0') AS lag FROM collections"
)
_ALL = text(_SPANS).columns(lead=IntervalType(), lag=IntervalType())
_SOME = text(f"{_SPANS} WHERE id = ANY(:ids)").columns(lead=IntervalType(), lag=IntervalType())


class TimeSpans(NamedTuple):
    """The longest reach of the items' time ranges before their datetime (``lead``:
    ``datetime - start_datetime``) and after it (``lag``: ``end_datetime - datetime``)."""

    lead: timedelta
    lag: timedelta


async def time_spans(session: Reader, collections: Sequence[str] | None) -> TimeSpans:
    """The reach of the items of ``collections`` (None: of every collection).

    Read in its own statement, before the search's: the bound it gives must be a
    literal for PostgreSQL to prune partitions when planning. A writer committing a
    longer range between the two is not seen by the search, as if it had committed
    just after it.
    """
    if collections is None:
        rows = await fetch_mappings(session, _ALL, {})
    else:
        rows = await fetch_mappings(session, _SOME, {"ids": list(collections)})
    return TimeSpans(rows[0]["lead"], rows[0]["lag"])


def _shifted(moment: datetime | None, by: timedelta) -> datetime | None:
    """``moment + by``, or None (no bound) past the range of datetimes."""
    if moment is None:
        return None
    try:
        return moment + by
    except OverflowError:
        return None


def datetime_bounds(
    interval: Interval, spans: TimeSpans
) -> tuple[datetime | None, datetime | None]:
    """The range of ``datetime`` every item meeting ``interval`` lies in: the window
    widened by the reach of the ranges (None: no bound on that side)."""
    return _shifted(interval.start, -spans.lag), _shifted(interval.end, spans.lead)
