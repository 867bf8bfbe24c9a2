"""Errors raised while turning a file into a STAC item.

They subclass :class:`catalog.errors.InvalidInput`, so every adapter already maps them to
"bad input" (HTTP 400, a GraphQL error with the ``code`` below) without knowing them.
"""

from __future__ import annotations

from catalog.errors import InvalidInput, ServiceUnavailable


class UnreadableRaster(InvalidInput):
    """GDAL cannot open the file, or reading its pixels fails (truncated, corrupt)."""

    code = "UNREADABLE_RASTER"


class InvalidRaster(InvalidInput):
    """The file opens but cannot become an item: no bands, no georeferencing, a CRS
    that is not on Earth, a footprint that cannot be expressed in EPSG:4326, no valid
    pixel at all."""

    code = "INVALID_RASTER"


class MissingDatetime(InvalidRaster):
    """Neither the request, the provider metadata nor the file says when the data was
    acquired; STAC requires a datetime, so the caller must give one."""

    code = "MISSING_DATETIME"


class InvalidMetadata(InvalidInput):
    """A provider metadata record (FGDC text or XML, ISO 19115) is malformed, unsafe, or
    lacks a field the provider processor needs."""

    code = "INVALID_METADATA"


class QueueUnavailable(ServiceUnavailable):
    """Redis did not take a job; the request may be sent again."""

    code = "QUEUE_UNAVAILABLE"
