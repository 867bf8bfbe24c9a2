"""``count=true``: ask for an exact ``numberMatched`` whatever it costs.

Without it, ``numberMatched`` is given when a lone first page is its own count, or when
a bounded count an operator turned on finds it (see ``catalog.search.count``);
``count=true`` always counts, without bounds."""

from __future__ import annotations

from typing import Annotated

import attr
from fastapi import FastAPI, Query
from pydantic import BaseModel
from stac_fastapi.types.extension import ApiExtension
from stac_fastapi.types.search import APIRequest


@attr.s
class CountGetRequest(APIRequest):
    """GET parameter."""

    count: Annotated[
        bool | None, Query(description="An exact numberMatched, however long counting takes")
    ] = attr.ib(default=None)


class CountPostRequest(BaseModel):
    """POST member."""

    count: bool | None = None


@attr.s
class CountExtension(ApiExtension):
    """Adds ``count`` to the search requests; no routes, no conformance class."""

    GET: type[APIRequest] = CountGetRequest
    POST: type[BaseModel] = CountPostRequest
    conformance_classes: list[str] = attr.ib(factory=list)
    schema_href: str | None = attr.ib(default=None)

    def register(self, app: FastAPI) -> None:
        """Nothing to register: the parameter rides on the search routes."""
