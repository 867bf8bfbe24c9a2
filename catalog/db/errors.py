"""Translation of driver errors into catalog errors, done once at the database boundary."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

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


DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError, SQLAlchemyTimeoutError, PendingRollbackError, asyncpg.PostgresError,
    asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
)
"""What a database call may raise; ``as_catalog_error`` tells what each one means."""


def _raised_by_driver(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(f"{os.sep}asyncpg{os.sep}" in frame.filename for frame in frames)


def _statement_failure(exc: BaseException) -> tuple[BaseException, bool] | None:
    """(the driver's error, whether the connection is lost) of a failed statement sent
    through SQLAlchemy or by the driver itself; None for any other error."""
    if isinstance(exc, DBAPIError):
        # SQLAlchemy saw a disconnect, or a connection-level error.
        lost = exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
        return driver_error(exc), lost
    if isinstance(exc, asyncpg.PostgresError):
        return exc, False
    return None


def as_catalog_error(exc: BaseException, *, database_call: bool = False) -> CatalogError | None:
    """The catalog error a driver or SQLAlchemy error stands for; None for anything else.

    Used by ``translate_db_errors`` (``database_call``: any ``OSError`` is the
    connection's) and, at the APIs' edges, for whatever escaped it: a dead pooled
    connection may surface where no statement of ours is translated (a checkout for
    authentication, the reset of a connection returned to the pool).
    """
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(ALREADY_EXISTS)
    if isinstance(exc, OSError) and (database_call or _raised_by_driver(exc)):
        return DatabaseUnavailable(UNAVAILABLE)  # no route, refused, reset
    if isinstance(exc, asyncpg.InterfaceError) and _too_many_arguments(exc):
        return InvalidInput(TOO_MANY_VALUES)
    if isinstance(
        exc, asyncpg.PostgresConnectionError | asyncpg.InterfaceError | asyncpg.InternalClientError
    ):
        # InternalClientError: the driver's protocol state broke under the statement (the
        # server ended the connection as it was sent).
        return DatabaseUnavailable(UNAVAILABLE)
    if isinstance(exc, SQLAlchemyTimeoutError | PendingRollbackError):
        # The pool stayed exhausted (connections hanging), or a connection was lost
        # mid-transaction and the session still holds it.
        return DatabaseUnavailable(UNAVAILABLE)
    failed = _statement_failure(exc)
    if failed is None:
        return None
    driver, lost = failed
    if _too_many_arguments(driver):
        return InvalidInput(TOO_MANY_VALUES)
    if lost or isinstance(driver, (*_UNAVAILABLE, OSError)):
        return DatabaseUnavailable(UNAVAILABLE)
    if isinstance(driver, asyncpg.UniqueViolationError):
        return Conflict(ALREADY_EXISTS)
    if isinstance(driver, asyncpg.QueryCanceledError):
        return InvalidInput(CANCELLED)
    if isinstance(driver, asyncpg.DataError | asyncpg.InvalidTextRepresentationError):
        return InvalidInput(REFUSED_VALUE)
    return None


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Re-raise asyncpg / SQLAlchemy errors as typed catalog errors, whose messages never
    quote SQL, bound values or driver text."""
    try:
        yield
    except CatalogError:
        raise
    except Exception as exc:
        error = as_catalog_error(exc, database_call=True)
        if error is None:
            raise
        raise error from exc
