"""The strawberry schema, its guards, and the SDL export kept in ``schema.graphql``."""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.extensions import MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from graphql_api.context import Limits
from graphql_api.document_cache import DocumentCache, Documents
from graphql_api.errors import ErrorCodes
from graphql_api.execution import LeafShortcut
from graphql_api.exports import ExportMutation
from graphql_api.limits import DocumentLimits
from graphql_api.mutations import Mutation
from graphql_api.queries import Query
from graphql_api.saved_searches import (
    SavedSearchMutation,
    SavedSearchQuery,
    SavedSearchSubscription,
)
from graphql_api.scalars import SCALARS
from graphql_api.subscriptions import Subscription

SDL_PATH = Path(__file__).with_name("schema.graphql")
QUERY = merge_types("Query", (Query, SavedSearchQuery))
MUTATION = merge_types("Mutation", (Mutation, ExportMutation, SavedSearchMutation))
SUBSCRIPTION = merge_types("Subscription", (Subscription, SavedSearchSubscription))


def create_schema(limits: Limits | None = None) -> strawberry.Schema:
    """The schema with document limits (tokens, depth, aliases, fields, cost) and coded,
    masked errors."""
    limits = limits or Limits()
    documents = Documents()
    return strawberry.Schema(
        query=QUERY,
        mutation=MUTATION,
        subscription=SUBSCRIPTION,
        config=StrawberryConfig(scalar_map=SCALARS),
        execution_context_class=LeafShortcut if limits.leaf_shortcut else None,
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            # Depth, aliases, fields and cost measured in one pass linear in the document.
            lambda: DocumentLimits(limits),
            # After the limits: they measure every request (its variables size pages).
            lambda: DocumentCache(documents),
            ErrorCodes,
        ],
    )


def schema_sdl() -> str:
    """The schema in SDL, as exported to ``graphql_api/schema.graphql``."""
    return create_schema().as_str() + "\n"

