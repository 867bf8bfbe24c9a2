"""Documents parsed and validated once (``graphql_api.document_cache``): a document seen
before answers as before, the document limits still measure every request (its variables
size its pages), and refused documents are refused every time."""

from __future__ import annotations

from tests.graphql_api.conftest import GraphQL

PAGES = """query($n: Int) {
    collections(first: $n) { nodes { id items(first: $n) { nodes { id } } } } }"""


async def test_a_kept_document_is_still_measured_with_each_request_s_variables(
    gql: GraphQL,
) -> None:
    first = await gql.data(PAGES, n=2)
    assert await gql.data(PAGES, n=2) == first  # parsed and validated once
    assert len(first["collections"]["nodes"]) == 2
    assert await gql.error_codes(PAGES, n=1000) == ["QUERY_TOO_COSTLY"]
    assert await gql.data(PAGES, n=1) == {"collections": {"nodes": [
        {**first["collections"]["nodes"][0],
         "items": {"nodes": first["collections"]["nodes"][0]["items"]["nodes"][:1]}},
    ]}}


async def test_invalid_documents_are_refused_every_time(gql: GraphQL) -> None:
    for _ in range(3):
        assert await gql.error_codes("{ items { nodes { id nope } } }") == [
            "GRAPHQL_VALIDATION_FAILED"
        ]
        assert await gql.error_codes("{ items { nodes { id ") == ["GRAPHQL_PARSE_FAILED"]
    # A valid variant, then the same document with a variable of the wrong type.
    query = "query($n: Int) { items(first: $n) { nodes { id } } }"
    assert len((await gql.data(query, n=3))["items"]["nodes"]) == 3
    assert await gql.error_codes(query, n="three") == ["BAD_USER_INPUT"]
