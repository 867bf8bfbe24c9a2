"""Translation of driver errors into catalog errors, done once at the database boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from catalog.errors import CatalogError, Conflict, DatabaseUnavailable, InvalidInput


def _driver_error(exc: BaseException) -> BaseException:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "__cause__", None) or orig or exc


# Server-side conditions that pass (too many connections, shutting down, starting up, the
# database closed to connections or locked for a moment).
_UNAVAILABLE = (
    asyncpg.InsufficientResourcesError,
    asyncpg.ObjectNotInPrerequisiteStateError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.PostgresConnectionError,
)


# Our own words only: the driver's text and SQLAlchemy's quote the statement and its bound
# values (issue 16: a 4 MB 503 body held the whole SELECT); the original error stays the
# ``__cause__``, for the server's log.
UNAVAILABLE = "database unavailable; try again later"
ALREADY_EXISTS = "already exists: an object with the same key is stored"
TOO_MANY_VALUES = "the request holds too many values for one database statement"
CANCELLED = "the query took too long and was cancelled"
REFUSED_VALUE = "a value of the request is not valid for the database"


def _too_many_arguments(driver: BaseException) -> bool:
    # asyncpg checks this client-side, before sending: the connection is fine.
    return isinstance(driver, asyncpg.InterfaceError) and "number of query arguments" in str(driver)


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Re-raise asyncpg / SQLAlchemy errors as typed catalog errors, whose messages never
    quote SQL, bound values or driver text."""
    try:
        yield
    except CatalogError:
        raise
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(ALREADY_EXISTS) from exc
    except (OSError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError) as exc:
        raise DatabaseUnavailable(UNAVAILABLE) from exc
    except DBAPIError as exc:
        driver = _driver_error(exc)
        if _too_many_arguments(driver):
            raise InvalidInput(TOO_MANY_VALUES) from exc
        if (
            exc.connection_invalidated  # SQLAlchemy saw a disconnect
            or isinstance(exc, OperationalError | InterfaceError)
            or isinstance(driver, _UNAVAILABLE)
        ):
            raise DatabaseUnavailable(UNAVAILABLE) from exc
        if isinstance(driver, asyncpg.UniqueViolationError):
            raise Conflict(ALREADY_EXISTS) from exc
        if isinstance(driver, asyncpg.QueryCanceledError):
            raise InvalidInput(CANCELLED) from exc
        if isinstance(driver, asyncpg.DataError | asyncpg.InvalidTextRepresentationError):
            raise InvalidInput(REFUSED_VALUE) from exc
        raise
