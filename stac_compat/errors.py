"""One map from catalog errors to HTTP status codes, rendered as STAC error bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from catalog.db.errors import DATABASE_ERRORS, as_catalog_error
from catalog.errors import (
    CatalogError,
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)

logger = logging.getLogger(__name__)

STATUS_CODES: dict[type[CatalogError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Gone: 410,
    Conflict: 409,
    ServiceUnavailable: 503,
}


def status_for(exc: CatalogError) -> int:
    """The HTTP status of a catalog error (500 for anything unmapped)."""
    for kind in type(exc).__mro__:
        if kind in STATUS_CODES:
            return STATUS_CODES[kind]
    return 500


def error_body(code: str, description: str) -> dict[str, str]:
    """The STAC API error document."""
    return {"code": code, "description": description}


def _catalog_response(exc: CatalogError, cause: Exception) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        # Only server faults are logged; a client's bad request is not our error.
        logger.error("request failed: %s", exc, exc_info=cause)
    return JSONResponse(error_body(exc.code, exc.message), status_code=status)


async def _catalog_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CatalogError)
    return _catalog_response(exc, exc)


MAX_REPORTED = 5
"""Validation errors named in a 400: a list of 40,000 bad entries would make a 4 MB body."""


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    details = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))[:200]}: {e.get('msg')}"
        for e in errors[:MAX_REPORTED]
    )
    if len(errors) > MAX_REPORTED:
        details += f"; and {len(errors) - MAX_REPORTED} more"
    return JSONResponse(
        error_body("INVALID_INPUT", details or "the request is not valid"), status_code=400
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = "NOT_FOUND" if exc.status_code == 404 else f"HTTP_{exc.status_code}"
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A database error no catalog function translated (a dead pooled connection met at
    # checkout or on its way back to the pool) is still the catalog error it stands for.
    translated = as_catalog_error(exc)
    if translated is not None:
        return _catalog_response(translated, exc)
    logger.error("request failed: %s", exc, exc_info=exc)
    return JSONResponse(
        error_body("INTERNAL_SERVER_ERROR", "internal server error"), status_code=500
    )


def add_error_handlers(app: FastAPI) -> None:
    """Render every catalog, validation and routing error as ``{"code", "description"}``,
    and any other failure as a JSON 500 that says nothing of it."""
    app.add_exception_handler(CatalogError, _catalog_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    # Handled like the errors above, not as a 500: Starlette's handler of 500s re-raises
    # after answering, and uvicorn then drops the keep-alive connection under the client.
    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, _unexpected_error)
    app.add_exception_handler(Exception, _unexpected_error)
