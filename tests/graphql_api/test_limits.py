"""Document limits: what a GraphQL operation may cost is bounded before anything runs."""

from __future__ import annotations

import pytest
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    get_introspection_query,
    parse,
)

from graphql_api.context import Limits
from graphql_api.limits import measure_operations
from graphql_api.schema import create_schema
from tests.graphql_api.conftest import GraphQL, app_settings
from tests.graphql_api.test_efficiency import statements
from tests.support.app_client import app_client


def doubling_fragments(count: int) -> str:
    """``count`` fragments, each spreading the one before twice (issue 16, item 1)."""
    fragments = ["fragment F0 on Query { items(first: 1) { nodes { id } } }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, count)]
    return f"query {{ ...F{count - 1} }}\n" + "\n".join(fragments)


def expanded_field_count(query: str) -> int:
    """Fields of the document's operation with every spread written out (a reference
    that walks the whole expansion, fine for small documents)."""
    document = parse(query)
    fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")
                 and not isinstance(d, InlineFragmentNode)}

    def count(selections: SelectionSetNode | None) -> int:
        total = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                total += 1 + count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += count(fragments[selection.name.value].selection_set)
            else:
                total += count(selection.selection_set)
        return total

    return count(document.definitions[0].selection_set)


@pytest.mark.parametrize("count", [20, 40])
async def test_fragments_that_double_are_refused_before_running(gql: GraphQL, count: int) -> None:
    body = await gql.post(doubling_fragments(count))
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "fragment expansion" in error["message"]


@pytest.mark.parametrize("count", [1, 2, 5, 9])
def test_fields_are_counted_as_if_fragments_were_written_out(count: int) -> None:
    query = doubling_fragments(count) + """
        fragment Page on ItemConnection { nodes { id ... on Item { bbox } } }
        query Other { a: items { ...Page } b: items { ...Page } }"""
    measures = measure_operations(create_schema()._schema, parse(query), {}, Limits())
    assert measures[""].fields == expanded_field_count(doubling_fragments(count))
    assert measures["Other"].fields == 2 * (1 + 1 + 2)
    assert measures["Other"].aliases == 2


async def test_aliases_hidden_in_fragments_are_counted(gql: GraphQL) -> None:
    aliases = " ".join(f"n{i}: nodes {{ id }}" for i in range(20))
    query = f"""fragment A on ItemConnection {{ {aliases} }}
        {{ items(first: 1) {{ ...A }} more: items(first: 1) {{ ...A }} }}"""
    assert await gql.error_codes(query) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_nested_pages_are_refused_by_their_cost(gql: GraphQL) -> None:
    query = "{ collections(first: 200) { nodes { items(first: 1000) { nodes { id } } } } }"
    body = await gql.post(query)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "cost" in error["message"]
    # collections, then per collection: nodes, items, then per item nodes { id }
    assert error["extensions"]["cost"]["requested"] == 1 + 200 * (1 + 1 + 1000 * 2)
    assert error["extensions"]["cost"]["maximum"] == Limits().max_cost


async def test_page_sizes_given_as_variables_count_in_the_cost(gql: GraphQL) -> None:
    query = """query($n: Int) {
        collections(first: $n) { nodes { items(first: $n) { nodes { id } } } } }"""
    assert await gql.error_codes(query, n=1000) == ["QUERY_TOO_COSTLY"]
    data = await gql.data(query, n=2)
    assert len(data["collections"]["nodes"]) == 2


async def test_the_introspection_query_of_graphiql_is_within_limits(gql: GraphQL) -> None:
    data = await gql.data(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_operations_running_many_statements_are_refused(gql: GraphQL) -> None:
    # Each aggregation is a statement over every matching item, bounded in time one by one.
    fields = ('totalCount byCollection { key } byTime { key } '
              'byProperty(name: "gsd") { key } histogram(property: "gsd") { count }')
    query = "{ " + " ".join(f"a{i}: aggregate {{ {fields} }}" for i in range(5)) + " }"
    body = await gql.post(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "database statements" in body["errors"][0]["message"]
    assert "errors" not in await gql.post("{ " + f"aggregate {{ {fields} }}" + " }")


def test_a_connection_counts_its_total_once_and_its_nodes_per_page() -> None:
    query = "{ items(first: 50) { totalCount pageInfo { hasNextPage } nodes { id bbox } } }"
    [measure] = measure_operations(create_schema()._schema, parse(query), {}, Limits()).values()
    assert measure.statements == 2  # the page and its count
    # items, totalCount, pageInfo { hasNextPage }, then nodes { id bbox } for each node
    assert measure.cost == 1 + 1 + 2 + 50 * (1 + 2)


def measure_of(query: str, **variables: object) -> int:
    """The cost of the one operation of ``query``."""
    schema = create_schema()._schema
    [measure] = measure_operations(schema, parse(query), variables, Limits()).values()
    return measure.cost


def test_the_largest_page_with_every_field_is_within_the_default_cost() -> None:
    item = ("id collectionId datetime startDatetime endDatetime geometry bbox properties "
            "stacVersion stacExtensions links { rel href type } "
            "assets { key href mediaType roles stac }")
    collection = ("collection { id title description license keywords "
                  "providers { name roles url } links { rel href } }")
    page = f"{{ items(first: {Limits().max_page_size}) {{ nodes {{ {item} {collection} }} }} }}"
    assert measure_of(page) <= Limits().max_cost


def test_lists_of_objects_multiply_by_their_size_argument_or_the_assumed_size() -> None:
    limits = Limits()
    # Each item's assets: no size argument, so the assumed list size.
    page = "{ items(first: 20) { nodes { id assets { href roles } } } }"
    assert measure_of(page) == 1 + 20 * (1 + 1 + 1 + limits.assumed_list_size * 2)
    # A histogram asks for its buckets; the default of the argument counts without one.
    histogram = '{ aggregate { histogram(property: "gsd", buckets: 40) { count } } }'
    assert measure_of(histogram) == 1 + 1 + 40 * 1
    defaulted = '{ aggregate { histogram(property: "gsd") { count } } }'
    assert measure_of(defaulted) == 1 + 1 + 10 * 1
    # Lists of scalars are one field.
    assert measure_of("{ items(first: 5) { nodes { bbox stacExtensions } } }") == 1 + 5 * 3


async def test_the_cost_is_in_the_extensions_when_asked_for(gql: GraphQL) -> None:
    query = "{ items(first: 3) { nodes { id assets { href } } } }"
    response = await gql.client.post(
        "/graphql", json={"query": query, "extensions": {"cost": True}})
    body = response.json()
    assert len(body["data"]["items"]["nodes"]) == 3
    assert body["extensions"]["cost"] == {
        "requested": measure_of(query), "maximum": Limits().max_cost,
        "statements": 1, "maximumStatements": Limits().max_statements,
    }
    plain = await gql.post(query)
    assert "extensions" not in plain


async def test_a_configured_max_cost_refuses_before_any_statement(
    catalog_url: str, loaded_sessions, tmp_path
) -> None:
    settings = app_settings(catalog_url, tmp_path / "assets")
    graphql = settings.graphql.model_copy(update={"max_cost": 100, "report_cost": True})
    query = "{ items(first: 40) { nodes { id datetime } } }"  # 1 + 40 * 3 = 121
    async with app_client(settings.model_copy(update={"graphql": graphql})) as (app, client):
        with statements(GraphQL(app, client)) as seen:
            refused = (await client.post("/graphql", json={"query": query})).json()
        assert seen == []
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert refused["errors"][0]["extensions"]["cost"]["requested"] == 121
        smaller = "{ items(first: 30) { nodes { id datetime } } }"
        body = (await client.post("/graphql", json={"query": smaller})).json()
    assert len(body["data"]["items"]["nodes"]) == 30
    assert body["extensions"]["cost"]["requested"] == 91
