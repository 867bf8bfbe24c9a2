"""What an export job is asked to do, as the JSON its ``jobs`` row carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from catalog.access.principal import Principal
from catalog.errors import InvalidInput
from catalog.export.formats import ExportFormat, export_format
from catalog.search.request import MAX_LIMIT, SearchRequest, build_search
from catalog.search.where import where_clauses

SEARCH_FIELDS = {
    "ids": "ids", "collections": "collections", "bbox": "bbox", "intersects": "intersects",
    "datetime": "datetime", "filter": "filter", "filter-lang": "filter_lang",
    "filter_lang": "filter_lang", "query": "query", "q": "q", "sortby": "sortby",
}
"""STAC search body members an export reads, and ``build_search``'s names for them."""
IGNORED_FIELDS = frozenset({"limit", "token", "count", "fields", "conf"})
"""Paging and response-shaping members: an export holds every match, whole."""


def owner_of(principal: Principal) -> str:
    """Who owns what ``principal`` creates: its API key (the same for the key's signed
    URLs) or the subject of its token."""
    if principal.key_id is not None:
        return f"key:{principal.key_id}"
    return principal.name


def search_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``build_search`` arguments of a STAC search body; ``InvalidInput`` for a member
    an export does not know (rather than exporting more than was asked)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the export's search must be a JSON object (a STAC search body)")
    unknown = sorted(set(body) - set(SEARCH_FIELDS) - IGNORED_FIELDS)
    if unknown:
        raise InvalidInput(f"the export's search has unknown members: {', '.join(unknown)}")
    return {SEARCH_FIELDS[k]: v for k, v in body.items() if k in SEARCH_FIELDS and v is not None}


@dataclass(frozen=True)
class ExportSpec:
    """Export every item ``search`` (a STAC search body) matches for the caller, in
    ``format``, to the store.

    ``scope`` and ``collection_id`` are the caller's (what it may read is decided again
    when the job runs); ``owner`` may download the file; ``base_url``, when given, is the
    API's public URL, which stored assets' hrefs are rewritten to (as the API shows
    them). Without it, hrefs stay as stored.
    """

    search: dict[str, Any]
    format: str
    owner: str
    scope: str | None = None
    collection_id: str | None = None
    base_url: str | None = None

    @classmethod
    def of(
        cls, principal: Principal, search: Mapping[str, Any], format: str | None,
        base_url: str | None = None,
    ) -> ExportSpec:
        """The spec of ``principal``'s export; validates the search and the format
        (``InvalidInput`` subclasses) without running anything."""
        search_arguments(search)  # refuses what is not a search body before dict() does
        spec = cls(
            dict(search), export_format(format).name, owner_of(principal), principal.scope,
            principal.collection_id, base_url,
        )
        # Compiled too: a filter that parses may still name an operator that no SQL has.
        where_clauses(spec.request(1))
        return spec

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ExportSpec:
        """The spec a job row's ``params`` hold."""
        return cls(**{k: v for k, v in params.items() if k in cls.__dataclass_fields__})

    def params(self) -> dict[str, Any]:
        """The spec as JSON for the job row and the queued job."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @property
    def file_format(self) -> ExportFormat:
        """The format of the file."""
        return export_format(self.format)

    @property
    def caller(self) -> Principal:
        """The caller as far as reading goes."""
        return Principal(self.scope, self.collection_id, self.owner)

    def request(self, page_size: int) -> SearchRequest:
        """The search of one page of ``page_size`` items, for the caller."""
        return build_search(
            **search_arguments(self.search), limit=min(page_size, MAX_LIMIT),
            max_limit=MAX_LIMIT, readable_private=self.caller.readable_private,
        )
