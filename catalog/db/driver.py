"""Kept statements sent straight through asyncpg's connection.

A search page is one statement, built once per shape and kept (``catalog.search.engine``).
Sending it through the session still costs SQLAlchemy's execution path on every request
(its cache key, execution context and result wrapping): more CPU than the statement's
round trip to PostgreSQL for a page of 10 items. A kept statement is compiled here once,
and its SQL text goes to the driver, which keeps it prepared, with the values in order.

Only statements SQLAlchemy would send and read unchanged take this path: no request value
it would convert before sending (values the statement holds are converted once, here),
no column it would convert after reading (geometry, numeric: those go through
SQLAlchemy, as before; JSONB is decoded by the codec SQLAlchemy sets on the driver's
connection), no parameter expanded at execution time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import CompoundSelect, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import TextualSelect

from catalog.db.errors import as_catalog_error
from catalog.db.replicas import RoutedSessions
from catalog.errors import DatabaseUnavailable

Statement = Select[Any] | CompoundSelect[Any] | TextualSelect


@dataclass(frozen=True)
class DriverStatement:
    """A statement's SQL text as the driver takes it, and its parameters' order."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]
    """Values of the parameters the statement itself holds (literals SQLAlchemy sends
    as parameters, such as a SRID)."""

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``values`` of the named parameters."""
        return [values[name] if name in values else self.fixed[name] for name in self.names]


@lru_cache(maxsize=1024)
def driver_statement(statement: Statement, dialect: Dialect) -> DriverStatement | None:
    """``statement`` compiled for ``dialect``'s driver, or None when SQLAlchemy would
    convert a parameter or a column on the way (then the session must send it).

    Cached by the statement object: call it for kept statements only.
    """
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    names = compiled.positiontup
    if names is None or compiled.post_compile_params:
        return None
    fixed: dict[str, Any] = {}
    for name in names:
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.expanding or (process is not None and bind.required):
            return None
        if not bind.required:  # a value the statement holds (a JSON key, a SRID)
            fixed[name] = bind.effective_value if process is None else process(bind.effective_value)
    if any(_converted(column.type, dialect) for column in statement.selected_columns):
        return None
    return DriverStatement(compiled.string, tuple(names), fixed)


Reader = AsyncSession | AsyncConnection
"""What a read runs on: a session, or a connection of its own (:func:`read_connection`)."""


def read_connection(sessions: async_sessionmaker[AsyncSession]) -> AsyncConnection | None:
    """A connection (not yet open) to the engine ``sessions`` would bind a session of a
    read to, or None when they bind to none in particular.

    A read of one page needs no session: opening and closing one costs about half a
    millisecond of CPU, as much as the page's statement."""
    if isinstance(sessions, RoutedSessions):
        return sessions.read_engine().connect()
    bind = sessions.kw.get("bind")
    return bind.connect() if isinstance(bind, AsyncEngine) else None


def _converted(type_: Any, dialect: Dialect) -> bool:
    """Whether SQLAlchemy converts values of ``type_`` read from the driver."""
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None) is not None
    except (TypeError, ValueError, KeyError):
        return True  # a type whose conversion depends on the column's type in the result


async def fetch_mappings(
    session: Reader, statement: Statement, values: Mapping[str, Any]
) -> Sequence[Mapping[Any, Any]]:
    """The rows of a kept ``statement`` run with ``values``, each a mapping of its
    labelled columns: sent by the driver when it can be (:func:`driver_statement`),
    through SQLAlchemy otherwise. Raises the driver's or SQLAlchemy's errors (callers
    translate them, as for any statement).

    The engine's ``before_cursor_execute`` listeners hear of a statement the driver
    sends, as of any other. A connection that fails under it is invalidated, as
    SQLAlchemy invalidates one failing under its own statements (its ``handle_error``
    listeners do not hear of it: a lost standby leaves the rotation at its next check).
    """
    connection = session if isinstance(session, AsyncConnection) else await session.connection()
    sent = driver_statement(statement, connection.dialect)
    if sent is None:
        return (await connection.execute(statement, values)).mappings().all()
    arguments = sent.arguments(values)
    sync = connection.sync_connection
    assert sync is not None  # an open connection
    if sync.dispatch.before_cursor_execute:
        for listener in sync.dispatch.before_cursor_execute:
            listener(sync, None, sent.sql, tuple(arguments), None, False)
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    try:
        # In the session's transaction when it has begun one (the same connection); read
        # sessions are autocommit, where the statement is its own transaction either way.
        rows: list[Mapping[Any, Any]] = await driver.fetch(sent.sql, *arguments)
    except Exception as exc:
        if isinstance(as_catalog_error(exc, database_call=True), DatabaseUnavailable):
            # The connection failed, not the statement: the pool must not hand it out
            # again (SQLAlchemy does the same for the statements it sends).
            await connection.invalidate(exc)
        raise
    return rows
