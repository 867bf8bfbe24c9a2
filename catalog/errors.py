"""Typed errors of the catalog core.

Every error carries a stable machine ``code`` and a message that names the offending
object. Nothing here knows about HTTP or GraphQL: the adapters map these classes to
status codes or GraphQL error codes in one place each.
"""

from __future__ import annotations


class CatalogError(Exception):
    """Base class of every error the catalog raises on purpose."""

    code = "CATALOG_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(CatalogError):
    """The caller sent something malformed (JSON, STAC document, parameter)."""

    code = "INVALID_INPUT"


class InvalidStac(InvalidInput):
    """A STAC document breaks a rule the catalog relies on."""

    code = "INVALID_STAC"


class InvalidGeometry(InvalidInput):
    """A GeoJSON geometry is malformed or not valid (self-intersection, unclosed ring...)."""

    code = "INVALID_GEOMETRY"


class InvalidDatetime(InvalidInput):
    """A datetime or interval is not RFC 3339 or is empty."""

    code = "INVALID_DATETIME"


class InvalidBbox(InvalidInput):
    """A bbox has the wrong length or impossible coordinates."""

    code = "INVALID_BBOX"


class InvalidFilter(InvalidInput):
    """A CQL2 filter cannot be parsed or uses something the catalog does not support."""

    code = "INVALID_FILTER"


class InvalidSortBy(InvalidInput):
    """A sortby field is unknown or malformed."""

    code = "INVALID_SORTBY"


class InvalidCursor(InvalidInput):
    """A paging token was not issued by this search, or was tampered with."""

    code = "INVALID_CURSOR"


class InvalidStorageKey(InvalidInput):
    """A storage key tries to leave the storage prefix or is otherwise unusable."""

    code = "INVALID_STORAGE_KEY"


class NotFound(CatalogError):
    """The object asked for does not exist."""

    code = "NOT_FOUND"


class UnknownCollection(NotFound):
    """An item or request names a collection that is not in the catalog."""

    code = "UNKNOWN_COLLECTION"


class ItemNotFound(NotFound):
    """No item with that id in that collection."""

    code = "ITEM_NOT_FOUND"


class SavedSearchNotFound(NotFound):
    """No saved search with that id belongs to the caller (another owner's is not shown
    to exist)."""

    code = "SAVED_SEARCH_NOT_FOUND"


class InvalidSavedSearch(InvalidInput):
    """A saved search's name, search body or webhook URL is malformed."""

    code = "INVALID_SAVED_SEARCH"


class Unauthorized(CatalogError):
    """The credentials are missing where they are required, malformed, unknown, revoked
    or expired."""

    code = "UNAUTHORIZED"


class Forbidden(CatalogError):
    """The caller is known but may not do this."""

    code = "FORBIDDEN"


class WebhookNotAllowed(Forbidden):
    """A webhook URL the fetch policy refuses (a private or loopback address, a host
    outside the allowed list, a scheme other than http(s))."""

    code = "WEBHOOK_NOT_ALLOWED"


class Gone(NotFound):
    """The resource existed and was removed for good (an export file past its expiry)."""

    code = "GONE"


class ExportExpired(Gone):
    """An export's file was removed after its retention period."""

    code = "EXPORT_EXPIRED"


class Conflict(CatalogError):
    """The write collides with what is stored (an id that already exists...)."""

    code = "CONFLICT"


class StorageError(CatalogError):
    """The asset store could not complete the operation."""

    code = "STORAGE_ERROR"


class ServiceUnavailable(CatalogError):
    """A service stacql depends on (database, queue, storage) is down or not configured;
    the operation may be retried later."""

    code = "SERVICE_UNAVAILABLE"


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached; the operation may be retried."""

    code = "DATABASE_UNAVAILABLE"
