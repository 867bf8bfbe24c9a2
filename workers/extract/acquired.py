"""When a raster was acquired: the item's ``datetime``.

Sources, first found wins: the caller's value, the provider's metadata (an FGDC record),
GDAL's IMAGERY metadata domain (``ACQUISITIONDATETIME``, filled from DigitalGlobe IMD
sidecars and similar), then ``TIFFTAG_DATETIME``. TIFF datetimes carry no time zone
and are read as UTC. Nothing is invented: with no source, ``MissingDatetime`` asks the
caller for one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rasterio.io import DatasetReaderBase

from catalog.errors import InvalidDatetime
from catalog.temporal import parse_rfc3339
from workers.errors import MissingDatetime

# TIFF 6.0 writes "YYYY:MM:DD HH:MM:SS"; some writers use dashes for the date.
_TIFF_DATETIME = re.compile(r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")


def parse_tiff_datetime(value: str) -> datetime:
    """A TIFF DateTime string as an aware UTC datetime; raises ``ValueError``."""
    match = _TIFF_DATETIME.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a TIFF date-time (YYYY:MM:DD HH:MM:SS)")
    return datetime(*(int(part) for part in match.groups()), tzinfo=UTC)


def _tag_datetime(ds: DatasetReaderBase) -> datetime | None:
    """The acquisition time recorded in the file, if any."""
    acquired = ds.tags(ns="IMAGERY").get("ACQUISITIONDATETIME")
    if acquired:
        try:
            return parse_rfc3339(acquired, field="IMAGERY ACQUISITIONDATETIME")
        except InvalidDatetime:
            return parse_tiff_datetime(acquired)
    stamp = ds.tags().get("TIFFTAG_DATETIME")
    return parse_tiff_datetime(stamp) if stamp else None


def acquisition_datetime(
    ds: DatasetReaderBase,
    given: datetime | None = None,
    provided: datetime | None = None,
) -> datetime:
    """The item's datetime (aware, UTC) from the first source that has one.

    Raises ``MissingDatetime`` when no source has one or when the file's tag is not a
    date-time, saying which datetime to give.
    """
    for value in (given, provided):
        if value is not None:
            if value.tzinfo is None:
                raise InvalidDatetime(f"datetime {value.isoformat()} has no time zone")
            return value.astimezone(UTC)
    try:
        found = _tag_datetime(ds)
    except (ValueError, InvalidDatetime) as exc:
        raise MissingDatetime(
            f"its acquisition time tag cannot be read ({exc}); give the item's datetime"
        ) from exc
    if found is None:
        raise MissingDatetime(
            "nothing says when it was acquired (no provider metadata, no "
            "ACQUISITIONDATETIME or TIFFTAG_DATETIME tag); give the item's datetime"
        )
    return found
