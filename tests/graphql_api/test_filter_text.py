"""GraphQL's ``filter`` takes CQL2 text as well as CQL2-JSON, with the same results."""

from __future__ import annotations

from tests.graphql_api.conftest import GraphQL

TEXT = "gsd < 1 AND \"naip:state\" = 'al'"
AS_JSON = {"op": "and", "args": [
    {"op": "<", "args": [{"property": "gsd"}, 1]},
    {"op": "=", "args": [{"property": "naip:state"}, "al"]},
]}
ITEMS = "query($f: JSON) { items(filter: $f, first: 1000) { nodes { id } } }"
TOTAL = "query($f: JSON) { aggregate(filter: $f) { totalCount } }"


async def test_items_filter_takes_cql2_text(gql: GraphQL) -> None:
    by_text = (await gql.data(ITEMS, f=TEXT))["items"]["nodes"]
    by_json = (await gql.data(ITEMS, f=AS_JSON))["items"]["nodes"]
    assert by_text == by_json and by_text


async def test_aggregate_filter_takes_cql2_text(gql: GraphQL) -> None:
    by_text = (await gql.data(TOTAL, f=TEXT))["aggregate"]["totalCount"]
    assert by_text == (await gql.data(TOTAL, f=AS_JSON))["aggregate"]["totalCount"] > 0


async def test_bad_cql2_text_is_bad_user_input(gql: GraphQL) -> None:
    assert await gql.error_codes(ITEMS, f="gsd <<< 1") == ["BAD_USER_INPUT"]
