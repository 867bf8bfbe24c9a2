"""The search engine shared by the STAC API and GraphQL."""

from catalog.search.cql2 import compile_filter, parse_filter
from catalog.search.engine import (
    RowPage,
    SearchPage,
    count_matches,
    search,
    search_rows,
)
from catalog.search.request import DEFAULT_LIMIT, MAX_LIMIT, SearchRequest, build_search
from catalog.search.sort import SortField, parse_sortby
from catalog.search.where import where_clauses

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "RowPage",
    "SearchPage",
    "SearchRequest",
    "SortField",
    "build_search",
    "compile_filter",
    "count_matches",
    "parse_filter",
    "parse_sortby",
    "search",
    "search_rows",
    "where_clauses",
]
