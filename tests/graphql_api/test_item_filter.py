"""One ``ItemFilter`` (``match``) for every item search: ``items``, ``Collection.items``
and ``aggregate`` find what STAC ``/search`` finds for the same terms, and the old flat
arguments mixed with ``match`` on the same field are refused with a code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.graphql_api.conftest import GraphQL
from tests.graphql_api.test_parity import CASES, graphql_variables, paged, stac_keys

ITEMS = """
query($match: ItemFilter, $sortBy: [SortBy!], $first: Int, $after: String) {
  items(match: $match, sortBy: $sortBy, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id collectionId } }
  }
}
"""
COLLECTION_ITEMS = """
query($id: String!, $match: ItemFilter, $sortBy: [SortBy!], $first: Int, $after: String) {
  collection(id: $id) {
    items(match: $match, sortBy: $sortBy, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id collectionId } }
    }
  }
}
"""
AGGREGATE = "query($match: ItemFilter) { aggregate(match: $match) { totalCount } }"


def match_of(body: dict[str, Any], where: list | None) -> dict[str, Any]:
    """The ``ItemFilter`` and paging variables of a STAC search body."""
    variables = graphql_variables(body, where)
    paging = {k: variables.pop(k) for k in ("sortBy", "first") if k in variables}
    return {"match": variables, **paging}


@pytest.mark.parametrize(("body", "where"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_the_filter_finds_what_stac_finds(gql: GraphQL, body: dict, where: Any) -> None:
    expected = await stac_keys(gql, body)
    variables = match_of(body, where)
    assert await paged(gql, ITEMS, ["items"], variables) == expected
    if "sortBy" not in variables:
        total = (await gql.data(AGGREGATE, match=variables["match"]))["aggregate"]
        assert total["totalCount"] == len(expected)
    collections = variables["match"].pop("collections", None)
    if collections is not None and len(collections) == 1:
        found = await paged(gql, COLLECTION_ITEMS, ["collection", "items"],
                            {**variables, "id": collections[0]})
        assert found == expected


async def test_flat_arguments_and_match_give_the_same_items(gql: GraphQL) -> None:
    flat = await gql.data(
        "{ items(collections: [\"naip\"], first: 50) { edges { node { id } } } }"
    )
    matched = await gql.data(
        "{ items(match: {collections: [\"naip\"]}, first: 50) { edges { node { id } } } }"
    )
    assert flat == matched and flat["items"]["edges"]


@pytest.mark.parametrize("query", [
    '{ items(match: {bbox: [0, 0, 1, 1]}, bbox: [0, 0, 1, 1]) { edges { cursor } } }',
    '{ aggregate(match: {q: "a"}, q: "b") { totalCount } }',
    '{ collection(id: "naip") { items(match: {collections: ["joplin"]}) '
    '{ edges { cursor } } } }',
    'mutation { exportItems(match: {ids: ["a"]}, ids: ["a"]) { id } }',
    '{ items(match: {filter: 3}) { edges { cursor } } }',
])
async def test_the_same_field_given_twice_is_refused(gql: GraphQL, query: str) -> None:
    assert await gql.error_codes(query) == ["BAD_USER_INPUT"]
