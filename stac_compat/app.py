"""The STAC API factory: stac-fastapi routes wired to the catalog client."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.models import (
    GeoJSONResponse,
    ItemCollectionUri,
    create_get_request_model,
    create_post_request_model,
    create_request_model,
)
from stac_fastapi.extensions.pagination import TokenPaginationExtension
from stac_fastapi.types.config import ApiSettings

from stac_compat.client import CatalogClient
from stac_compat.errors import add_error_handlers
from stac_compat.transactions import CatalogTransactionExtension, TransactionsClient


def create_stac_api(
    app: FastAPI,
    sessions: async_sessionmaker[AsyncSession],
    *,
    title: str = "stacql",
    description: str = "STAC API of the stacql catalog",
    version: str = "0.1.0",
    max_limit: int = 10_000,
) -> StacApi:
    """Mount the STAC API routes on ``app`` (at its root) and return the StacApi."""
    settings = ApiSettings(
        stac_fastapi_title=title,
        stac_fastapi_description=description,
        stac_fastapi_version=version,
        stac_fastapi_landing_id="stacql",
        enable_response_models=False,
    )
    extensions = [
        TokenPaginationExtension(),
        CatalogTransactionExtension(
            client=TransactionsClient(sessions=sessions),
            settings=settings,
            response_class=GeoJSONResponse,
        ),
    ]
    items_model = create_request_model(
        "ItemCollectionUri", base_model=ItemCollectionUri,
        mixins=[TokenPaginationExtension().GET],
    )
    api = StacApi(
        app=app,
        settings=settings,
        client=CatalogClient(
            sessions=sessions,
            max_limit=max_limit,
            extensions=extensions,
            landing_page_id="stacql",
            title=title,
            description=description,
        ),
        extensions=extensions,
        search_get_request_model=create_get_request_model(extensions),
        search_post_request_model=create_post_request_model(extensions),
        items_get_request_model=items_model,
        exceptions={},
    )
    add_error_handlers(app)
    return api
