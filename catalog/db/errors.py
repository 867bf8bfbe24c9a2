"""Translation of driver errors into catalog errors, done once at the database boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from catalog.errors import CatalogError, Conflict, DatabaseUnavailable, InvalidInput


def driver_error(exc: BaseException) -> BaseException:
    """The asyncpg exception behind a SQLAlchemy error (or the error itself)."""
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


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Re-raise asyncpg / SQLAlchemy errors as typed catalog errors."""
    try:
        yield
    except CatalogError:
        raise
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"already exists: {exc.detail or exc}") from exc
    except (OSError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError) as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            # SQLAlchemy saw a disconnect (a pooled connection the server closed).
            raise DatabaseUnavailable(f"database unavailable: {driver_error(exc)}") from exc
        driver = driver_error(exc)
        if isinstance(driver, asyncpg.UniqueViolationError):
            raise Conflict(f"already exists: {driver.detail or driver}") from exc
        if isinstance(driver, _UNAVAILABLE):
            raise DatabaseUnavailable(f"database unavailable: {driver}") from exc
        if isinstance(driver, asyncpg.QueryCanceledError):
            raise InvalidInput("the query took too long and was cancelled") from exc
        if isinstance(driver, asyncpg.DataError | asyncpg.InvalidTextRepresentationError):
            raise InvalidInput(f"invalid value: {driver}") from exc
        raise
