"""RFC 3339 datetimes and the STAC datetime parameter (instants and intervals)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from catalog.errors import InvalidDatetime, InvalidInput

# RFC 3339 date-time: a full date, a time, optional fraction and a mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
# The form nearly every document uses: UTC, at most microseconds. Read as it is.
_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_OPEN = ("", "..")


def parse_rfc3339(value: object, *, field: str = "datetime") -> datetime:
    """Parse an RFC 3339 date-time with a time zone into an aware UTC datetime.

    Raises ``InvalidDatetime`` naming ``field`` for anything else (dates without a
    time, naive times, impossible dates, non-strings).
    """
    if type(value) is str and _RFC3339_UTC.match(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # an impossible date: refused below, with the reason
    if not isinstance(value, str) or not _RFC3339.match(value.strip()):
        raise InvalidDatetime(
            f"{field}: {value!r} is not an RFC 3339 date-time such as 2020-01-31T12:00:00Z"
        )
    text = value.strip().replace("z", "Z").replace("t", "T")
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:
        # Python keeps microseconds; finer digits are truncated rather than rejected.
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        # Converting to UTC can leave the datetime range (9999-12-31T23:59:59-12:00).
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidDatetime(f"{field}: {value!r} is not a valid date-time ({exc})") from exc


def format_rfc3339(value: datetime) -> str:
    """Format an aware datetime as RFC 3339 in UTC with a ``Z`` suffix."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Interval:
    """A closed time interval; ``None`` on either side means open."""

    start: datetime | None
    end: datetime | None

    @property
    def is_unbounded(self) -> bool:
        """True when neither side is bounded: it matches everything."""
        return self.start is None and self.end is None


def typed_interval(
    start: datetime | None, end: datetime | None, *, field: str = "datetime"
) -> Interval | None:
    """The interval between two aware datetimes (either may be open), in UTC; None when
    both are open (it matches everything). Raises ``InvalidInput`` for a naive bound and
    ``InvalidDatetime`` when the start is after the end."""
    if start is None and end is None:
        return None
    for bound in (start, end):
        if bound is not None and bound.tzinfo is None:
            raise InvalidInput(f"{field} bounds need a time zone (e.g. a trailing Z)")
    start = start.astimezone(UTC) if start is not None else None
    end = end.astimezone(UTC) if end is not None else None
    if start and end and start > end:
        raise InvalidDatetime(
            f"{field}: the interval {format_rfc3339(start)}/{format_rfc3339(end)} starts "
            "after it ends"
        )
    return Interval(start, end)


def parse_interval(value: str, *, field: str = "datetime") -> Interval:
    """Parse the STAC ``datetime`` parameter: an instant, ``a/b``, ``../b`` or ``a/..``.

    An instant becomes the degenerate interval ``[t, t]``; an empty side is open like
    ``..``. Raises ``InvalidDatetime`` when a side is malformed, the start is after the
    end, or both sides are open: ``../..`` is outside the OGC API - Features grammar, and
    stac-api-validator expects it refused.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidDatetime(f"{field}: an instant or an interval 'start/end' is required")
    parts = value.strip().split("/")
    if len(parts) == 1:
        instant = parse_rfc3339(parts[0], field=field)
        return Interval(instant, instant)
    if len(parts) != 2:
        raise InvalidDatetime(f"{field}: {value!r} has more than one '/'")
    if parts[0] in _OPEN and parts[1] in _OPEN:
        raise InvalidDatetime(f"{field}: {value!r} leaves both ends of the interval open")
    start = None if parts[0] in _OPEN else parse_rfc3339(parts[0], field=field)
    end = None if parts[1] in _OPEN else parse_rfc3339(parts[1], field=field)
    if start and end and start > end:
        raise InvalidDatetime(f"{field}: the interval {value!r} starts after it ends")
    return Interval(start, end)
