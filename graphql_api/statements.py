"""Which GraphQL fields run a database statement each time they are resolved.

A resolver that runs one (opening a session itself, through ``find_items`` or through an
aggregation) says so where it is defined: ``@strawberry.field(metadata=STATEMENT)``. The
document limits (``graphql_api.limits``) read the marks from the schema, so what they
count follows the resolvers (the hand-written table it replaces named a field that does
not exist and one whose count is taken by its parent). Fields resolved through a
dataloader are not marked: a loader runs one statement per batch, whatever the page
size. Mutations are bounded by their own checks and are not marked either.
"""

from __future__ import annotations

from graphql import GraphQLField

_MARK = "stacql.runs_statement"
STATEMENT: dict[str, object] = {_MARK: True}
"""The ``metadata`` of a field whose resolver runs a database statement."""


def runs_statement(field: GraphQLField | None) -> bool:
    """Whether resolving ``field`` runs a database statement (its resolver is marked)."""
    definition = field.extensions.get("strawberry-definition") if field is not None else None
    return bool(definition is not None and definition.metadata.get(_MARK))
