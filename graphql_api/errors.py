"""One place that gives every GraphQL error a machine code and hides internal faults.

Catalog errors keep their message and get ``extensions.code`` from ``CODES`` (and the
catalog's own finer code as ``extensions.reason``); GraphQL syntax, validation and
variable errors get the usual Apollo codes; anything else is logged and replaced by
"Internal server error" so no traceback or SQL ever reaches a client.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from catalog.db.errors import as_catalog_error
from catalog.errors import (
    CatalogError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    StorageError,
    Unauthorized,
)

logger = logging.getLogger(__name__)

CODES: dict[type[CatalogError], str] = {
    InvalidInput: "BAD_USER_INPUT",
    NotFound: "NOT_FOUND",
    Conflict: "CONFLICT",
    ServiceUnavailable: "SERVICE_UNAVAILABLE",
    StorageError: "SERVICE_UNAVAILABLE",
    Forbidden: "FORBIDDEN",
    Unauthorized: "UNAUTHENTICATED",
}


def code_of(exc: CatalogError) -> str:
    """The GraphQL error code of a catalog error."""
    for kind in type(exc).__mro__:
        if kind in CODES:
            return CODES[kind]
    return "INTERNAL_SERVER_ERROR"


def _request_error_code(error: GraphQLError) -> str:
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def with_code(error: GraphQLError, code: str, **extra: str) -> GraphQLError:
    """A copy of ``error`` carrying ``extensions.code`` (and any extra extensions)."""
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code, **extra},
    )


class ErrorCodes(MaskErrors):
    """Add codes to every error and mask the unexpected ones."""

    def __init__(self) -> None:
        super().__init__(error_message="Internal server error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._process(error) for error in errors]

    def _process(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is not None and not isinstance(original, CatalogError | GraphQLError):
            # A database error no catalog function translated (a dead pooled connection
            # met at checkout, or on its way back to the pool) is still a catalog error.
            original = as_catalog_error(original) or original
        if isinstance(original, CatalogError):
            return with_code(error, code_of(original), reason=original.code)
        given = (error.extensions or {}).get("code")
        if error.path is None:
            # Raised before execution (parse, validation, variable coercion): the message
            # speaks of the request, never of our internals.
            return with_code(error, given or _request_error_code(error))
        if original is None or isinstance(original, GraphQLError):
            return with_code(error, given or "BAD_USER_INPUT")
        logger.error("GraphQL resolver failed: %s", original, exc_info=original)
        return with_code(self.anonymise_error(error), "INTERNAL_SERVER_ERROR")
