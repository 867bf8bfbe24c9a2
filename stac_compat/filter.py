"""The Filter extension with CQL2 text accepted in POST bodies, as CQL2-JSON is.

stac-fastapi's POST model takes only a CQL2-JSON object, but pystac-client (its default
method is POST) and rustac send a string filter with ``"filter-lang": "cql2-text"``.
Both languages are accepted in both methods (``catalog.search`` parses them): the search
POST model takes this model's members over the extension's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from stac_fastapi.extensions.filter.request import FilterExtensionPostRequest


class FilterPostRequest(FilterExtensionPostRequest):
    """POST members: ``filter`` as a CQL2-JSON object or CQL2 text."""

    filter_expr: dict[str, Any] | str | None = Field(
        None,
        alias="filter",
        description="A CQL2 filter: a CQL2-JSON object, or CQL2 text with "
        '"filter-lang": "cql2-text".',
    )
    filter_lang: Literal["cql2-json", "cql2-text"] | None = Field(
        None,
        alias="filter-lang",
        description="The language of `filter`; without it, an object is CQL2-JSON and a "
        "string CQL2 text.",
    )

