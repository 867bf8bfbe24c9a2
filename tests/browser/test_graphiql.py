"""GraphiQL at ``/graphql`` in Chromium: it loads, runs a query and shows its answer,
with no request leaving stacql and no console error (``open_page`` checks both)."""

from __future__ import annotations

import json

from playwright.async_api import expect

from tests.browser.conftest import OpenPage, graphql

QUERY = "{ collections(first: 5) { nodes { id } } }"


async def test_graphiql_runs_a_query_with_nothing_from_outside(
    catalog_server: str, open_page: OpenPage
) -> None:
    expected = await graphql(catalog_server, QUERY)
    tab = await open_page(catalog_server)
    page = tab.page
    await page.goto(f"{catalog_server}graphql")
    editor = page.locator(".graphiql-query-editor .monaco-editor").first
    await expect(editor).to_be_visible(timeout=30_000)
    await editor.click()
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(QUERY)
    await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    response = page.locator(".graphiql-response .view-lines")
    for node in expected["collections"]["nodes"]:
        await expect(response).to_contain_text(json.dumps(node["id"]), timeout=30_000)
    await tab.screenshot("graphiql")
    # The schema came through introspection, from stacql: the docs list the root type.
    await page.get_by_role("button", name="Show Documentation Explorer").click()
    await expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Query")
