"""The item page shows the item the GraphQL API holds: properties, assets, STAC JSON, and
a link to the same item in the STAC API."""

from __future__ import annotations

import json

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import PHONE, OpenPage, graphql, settled

ITEM = """query($c: String!, $i: String!) { item(collectionId: $c, id: $i) {
  properties stac assets { key href roles size } } }"""


async def open_first_naip_result(page: Page) -> tuple[str, str]:
    """Search NAIP, open the first result from the list; its (collection, id)."""
    await page.locator("input[name=collection][value=naip]").check()
    await settled(page)
    first = page.locator("li.result").first
    await expect(page.locator(".status")).to_contain_text("showing")
    item_id = await first.get_attribute("data-item-id")
    collection_id = await first.get_attribute("data-collection-id")
    assert item_id and collection_id
    await first.get_by_role("link", name=item_id).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(item_id)
    return collection_id, item_id


async def table_rows(page: Page, table: str) -> dict[str, list[str]]:
    """Rows of a table by their header cell's first line: the text of their other cells."""
    return await page.locator(f"table.{table} tbody tr").evaluate_all("""rows =>
        Object.fromEntries(rows.map(row => [row.querySelector('th').firstChild.textContent,
            [...row.querySelectorAll('td')].map(cell => cell.textContent)]))""")


async def test_an_item_page_shows_its_properties_assets_and_stac(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server)
    page = tab.page
    await tab.goto()
    collection_id, item_id = await open_first_naip_result(page)
    item = (await graphql(catalog_server, ITEM, c=collection_id, i=item_id))["item"]

    properties = await table_rows(page, "properties")
    assert sorted(properties) == sorted(item["properties"])
    for name, value in item["properties"].items():
        shown = properties[name][0]
        if isinstance(value, str):
            assert shown == value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            assert float(shown) == value

    assets = await table_rows(page, "assets")
    assert sorted(assets) == sorted(a["key"] for a in item["assets"])
    for asset in item["assets"]:
        roles, _media_type, _size, _link = assets[asset["key"]]
        assert roles == ", ".join(asset["roles"])
        row = page.locator(f'table.assets tr[data-asset-key="{asset["key"]}"]')
        await expect(row.get_by_role("link", name="Download")).to_have_attribute(
            "href", asset["href"])

    stac_link = page.get_by_role("link", name="This item in the STAC API")
    href = await stac_link.get_attribute("href")
    assert href == f"{catalog_server}collections/{collection_id}/items/{item_id}"
    async with httpx.AsyncClient(timeout=30) as client:
        served = await client.get(href)
    assert served.status_code == 200 and served.json()["id"] == item_id

    await expect(page.locator('.item-map path[stroke="#d6336c"]')).to_have_count(1)
    await tab.screenshot("desktop-item")
    await page.get_by_text("STAC JSON").click()
    assert json.loads(await page.locator(".stac-json pre").text_content() or "") == item["stac"]


async def test_an_item_page_fits_a_phone(catalog_server: str, open_page: OpenPage) -> None:
    tab = await open_page(catalog_server, PHONE)
    await tab.goto()
    await open_first_naip_result(tab.page)
    await expect(tab.page.locator("table.assets")).to_be_visible()
    assert await tab.page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    await tab.screenshot("phone-item")


async def test_an_unknown_item_says_so(catalog_server: str, open_page: OpenPage) -> None:
    tab = await open_page(catalog_server)
    await tab.goto("#/item/naip/no-such-item")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("No such item")
    await expect(tab.page.get_by_role("alert")).to_contain_text("no-such-item")
