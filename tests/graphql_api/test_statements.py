"""The statements the document limits count are the resolvers' own marks, and match what
running a document does (``graphql_api.statements``)."""

from __future__ import annotations

import inspect

import pytest
from graphql import GraphQLObjectType, parse

from graphql_api.context import Limits
from graphql_api.limits import measure_operations
from graphql_api.schema import create_schema
from graphql_api.statements import runs_statement
from tests.graphql_api.conftest import GraphQL
from tests.graphql_api.test_efficiency import statements

# What a resolver's code does to reach the database itself (not through a dataloader):
# a session of its own, or an operation that runs one statement for it.
OPENS_A_STATEMENT = (
    "sessions()", "find_items(", "self._run(", "collections.search(", "searches.rows(",
    "searches.count(", "searches.aggregate(", "searches.assets(",
)
UNCOUNTED_ROOTS = ("Mutation", "Subscription")


def _resolvers():
    schema = create_schema()._schema
    for type_name, kind in schema.type_map.items():
        if type_name.startswith("__") or type_name in UNCOUNTED_ROOTS:
            continue
        if not isinstance(kind, GraphQLObjectType):
            continue
        for name, field in kind.fields.items():
            resolver = field.extensions["strawberry-definition"].base_resolver
            if resolver is not None:
                yield f"{type_name}.{name}", field, inspect.getsource(resolver.wrapped_func)


def test_every_resolver_reaching_the_database_is_marked_and_no_other() -> None:
    for name, field, source in _resolvers():
        direct = any(call in source for call in OPENS_A_STATEMENT)
        # A root field runs its loader's batch alone: one statement each time.
        root_loader = name.startswith("Query.") and "loaders." in source
        assert runs_statement(field) == (direct or root_loader), name


@pytest.mark.parametrize("query", [
    "{ items(first: 3) { totalCount nodes { id } } }",
    '{ aggregate(collections: ["naip"]) { totalCount byCollection { key } } }',
    '{ collection(id: "naip") { items(first: 2) { nodes { id } } } }',
    '{ item(collectionId: "naip", id: "nope") { id } '
    'job(id: "00000000-0000-0000-0000-000000000000") { id } }',
    "{ collections(first: 2) { nodes { id items(first: 1) { nodes { id } } } } }",
])
async def test_the_counted_statements_are_those_a_document_runs(gql: GraphQL, query: str) -> None:
    [measure] = measure_operations(create_schema()._schema, parse(query), {}, Limits()).values()
    with statements(gql) as seen:
        await gql.data(query)
    assert len(seen) == measure.statements, seen
