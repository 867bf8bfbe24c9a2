"""When a raster was acquired: the item's ``datetime``.

Sources, first found wins: the provider's metadata (an FGDC record), GDAL's IMAGERY
metadata domain (``ACQUISITIONDATETIME``, filled from DigitalGlobe IMD sidecars and
similar), ``TIFFTAG_DATETIME``, the file name by a well-known convention (NAIP,
Landsat, Sentinel-1/2, ASTER...: :mod:`.names`), then the caller's value, the default
for files that say nothing. TIFF datetimes carry no time zone and are read as UTC.
Nothing is invented: with no source, ``MissingDatetime`` asks the caller for one and
says which sources were tried.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rasterio.io import DatasetReaderBase

from catalog.errors import InvalidDatetime
from catalog.temporal import parse_rfc3339
from workers.errors import MissingDatetime
from workers.extract.names import convention_names, datetime_from_name

# TIFF 6.0 writes "YYYY:MM:DD HH:MM:SS"; some writers use dashes for the date.
_TIFF_DATETIME = re.compile(r"^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")


def parse_tiff_datetime(value: str) -> datetime:
    """A TIFF DateTime string as an aware UTC datetime; raises ``ValueError``."""
    match = _TIFF_DATETIME.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a TIFF date-time (YYYY:MM:DD HH:MM:SS)")
    return datetime(*(int(part) for part in match.groups()), tzinfo=UTC)


def _tag_datetime(ds: DatasetReaderBase) -> datetime | None:
    """The acquisition time recorded in the file, if any; raises ``ValueError`` or
    ``InvalidDatetime`` for a tag that is not a date-time."""
    acquired = ds.tags(ns="IMAGERY").get("ACQUISITIONDATETIME")
    if acquired:
        try:
            return parse_rfc3339(acquired, field="IMAGERY ACQUISITIONDATETIME")
        except InvalidDatetime:
            return parse_tiff_datetime(acquired)
    stamp = ds.tags().get("TIFFTAG_DATETIME")
    return parse_tiff_datetime(stamp) if stamp else None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidDatetime(f"datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def acquisition_datetime(
    ds: DatasetReaderBase,
    given: datetime | None = None,
    provided: datetime | None = None,
    file_name: str | None = None,
) -> datetime:
    """The item's datetime (aware, UTC) from the first source that has one: the
    provider's metadata (``provided``), the file's tags, its name by a known convention
    (see :mod:`.names`), then the caller's value (``given``).

    Raises ``MissingDatetime`` when none has one, naming every source tried.
    """
    if provided is not None:
        return _aware(provided)
    tried = ["provider metadata: none"]
    try:
        found = _tag_datetime(ds)
    except (ValueError, InvalidDatetime) as exc:
        found = None
        tried.append(f"ACQUISITIONDATETIME/TIFFTAG_DATETIME tags: unreadable ({exc})")
    else:
        tried.append("ACQUISITIONDATETIME/TIFFTAG_DATETIME tags: none")
    if found is not None:
        return found
    named = datetime_from_name(file_name) if file_name else None
    if named is not None:
        return named[0]
    tried.append(
        f"file name {file_name!r}: matches none of {', '.join(convention_names())}"
        if file_name else "file name: none"
    )
    if given is not None:
        return _aware(given)
    raise MissingDatetime(
        f"nothing says when it was acquired (tried {'; '.join(tried)}); give the item's "
        "datetime"
    )
