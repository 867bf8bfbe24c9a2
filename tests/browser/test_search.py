"""The search page: an AOI drawn on the map and a date range list exactly the items the
GraphQL API returns for the same arguments, page by page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from playwright.async_api import Page, expect
from shapely.geometry import box, shape

from tests.browser.conftest import PHONE, BrowserPage, OpenPage, graphql, settled

# South Alabama, where the NAIP sample items are: a bbox typed in to place the map.
AREA = "-88.0, 30.5, -87.5, 31.0"
START, END = "2011-01-01", "2017-12-31"
SEARCH = """query($collections: [String!], $bbox: [Float!], $intersects: GeoJSON,
  $datetime: DatetimeRange, $where: [PropertyCondition!], $sortBy: [SortBy!], $after: String) {
  items(collections: $collections, bbox: $bbox, intersects: $intersects, datetime: $datetime,
        where: $where, sortBy: $sortBy, first: 50, after: $after) {
    pageInfo { hasNextPage endCursor } nodes { id } } }"""
ALL_NAIP = """query($after: String) { items(collections: ["naip"], first: 1000, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id datetime geometry } } }"""


async def graphql_ids(base_url: str, **arguments: object) -> list[str]:
    """Every id the GraphQL API returns for ``arguments``, following the cursor."""
    ids: list[str] = []
    after = None
    while True:
        page = (await graphql(base_url, SEARCH, after=after, **arguments))["items"]
        ids += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


async def listed_ids(page: Page) -> list[str]:
    """The ids of every result page, pressing Next until it is disabled."""
    ids: list[str] = []
    while True:
        await settled(page)
        await expect(page.locator(".status")).to_contain_text("showing")
        ids += await page.locator("li.result").evaluate_all(
            "rows => rows.map(row => row.dataset.itemId)")
        following = page.get_by_role("button", name="Next →")
        if await following.is_disabled():
            return ids
        first = await page.locator("li.result").first.get_attribute("data-item-id")
        await following.click()
        await expect(page.locator("li.result").first).not_to_have_attribute("data-item-id", first)


async def draw(page: Page, tool: str, fractions: list[tuple[float, float]]) -> dict:
    """Draw with ``tool`` by clicking the map at fractions of its size; the AOI queried."""
    map_element = page.locator("#search-map")
    before = await map_element.get_attribute("data-aoi")
    await page.get_by_role("button", name=tool).click()
    await expect(map_element).to_be_in_viewport(ratio=0.9)  # the page scrolls it into view
    area = await map_element.bounding_box()
    assert area is not None
    for fx, fy in fractions:
        await page.mouse.click(area["x"] + fx * area["width"], area["y"] + fy * area["height"])
    if tool == "⬠ Polygon":
        await page.keyboard.press("Enter")
    await expect(map_element).not_to_have_attribute("data-aoi", before or "")
    return json.loads(await map_element.get_attribute("data-aoi") or "null")


async def search_naip_in_area(tab: BrowserPage) -> Page:
    """The search page with the NAIP collection, the map on ``AREA`` and the date range set."""
    page = tab.page
    await tab.goto()
    await page.locator("input[name=collection][value=naip]").check()
    await page.get_by_label("Bounding box (W, S, E, N)").fill(AREA)
    await page.get_by_label("Bounding box (W, S, E, N)").press("Enter")
    await page.get_by_label("From").fill(START)
    await page.get_by_label("To").fill(END)
    await page.get_by_role("button", name="Search", exact=True).click()
    await settled(page)
    return page


def datetime_range() -> dict[str, str]:
    """The range the page sends for the From/To dates (whole UTC days)."""
    return {"start": f"{START}T00:00:00Z", "end": f"{END}T23:59:59.999Z"}


async def naip_matching(base_url: str, area) -> list[str]:
    """Independent reference: NAIP items whose geometry meets ``area`` (shapely) in the
    date range, from a plain listing of every NAIP item."""
    start = datetime.fromisoformat(f"{START}T00:00:00+00:00")
    end = datetime.fromisoformat(f"{END}T23:59:59.999+00:00")
    found, after = [], None
    while True:
        page = (await graphql(base_url, ALL_NAIP, after=after))["items"]
        for node in page["nodes"]:
            when = datetime.fromisoformat(node["datetime"]).astimezone(UTC)
            if start <= when <= end and shape(node["geometry"]).intersects(area):
                found.append(node["id"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def test_a_drawn_rectangle_and_dates_list_exactly_the_graphql_items(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server)
    page = await search_naip_in_area(tab)
    aoi = await draw(page, "▭ Rectangle", [(0.4, 0.4), (0.65, 0.65)])
    assert aoi["kind"] == "bbox"
    await expect(page.get_by_label("Bounding box (W, S, E, N)")).to_have_value(
        ", ".join(str(v) for v in aoi["bbox"]))
    listed = await listed_ids(page)
    expected = await graphql_ids(
        catalog_server, collections=["naip"], bbox=aoi["bbox"], datetime=datetime_range(),
        sortBy=[{"field": "datetime", "direction": "DESC"}],
    )
    assert listed == expected
    assert len(listed) > 20, "the area should need more than one page of 20"
    assert set(listed) == set(await naip_matching(catalog_server, box(*aoi["bbox"])))
    await tab.screenshot("desktop-search")


async def test_a_drawn_polygon_lists_exactly_the_graphql_items(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server)
    page = await search_naip_in_area(tab)
    aoi = await draw(page, "⬠ Polygon", [(0.4, 0.4), (0.65, 0.45), (0.5, 0.65)])
    assert aoi["kind"] == "polygon"
    listed = await listed_ids(page)
    expected = await graphql_ids(
        catalog_server, collections=["naip"], intersects=aoi["geometry"],
        datetime=datetime_range(), sortBy=[{"field": "datetime", "direction": "DESC"}],
    )
    assert listed == expected
    assert listed, "the polygon should meet some items"
    assert set(listed) == set(await naip_matching(catalog_server, shape(aoi["geometry"])))


async def test_a_result_and_its_footprint_are_highlighted_together(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server)
    page = await search_naip_in_area(tab)
    await expect(page.locator("li.result").first).to_be_visible()
    highlighted = page.locator('#search-map path[stroke="#d6336c"]')
    second, third = page.locator("li.result").nth(1), page.locator("li.result").nth(2)
    await second.hover()
    await expect(second).to_have_class("result selected")
    await expect(page.locator("li.result.selected")).to_have_count(1)
    await expect(highlighted).to_have_count(1)
    await third.get_by_role("button").click()  # "Map": select it and zoom to it
    await expect(third).to_have_class("result selected")
    await expect(page.locator("li.result.selected")).to_have_count(1)
    await expect(highlighted).to_have_count(1)
    footprint = await highlighted.bounding_box()
    assert footprint is not None
    # Select another row, then click the third's footprint on the map: its row is selected.
    await second.hover()
    await expect(second).to_have_class("result selected")
    await page.mouse.click(footprint["x"] + footprint["width"] / 2,
                           footprint["y"] + footprint["height"] / 2)
    await expect(third).to_have_class("result selected")
    await expect(highlighted).to_have_count(1)


async def test_the_search_page_fits_a_phone(catalog_server: str, open_page: OpenPage) -> None:
    tab = await open_page(catalog_server, PHONE)
    page = await search_naip_in_area(tab)
    await draw(page, "▭ Rectangle", [(0.3, 0.3), (0.7, 0.7)])
    await settled(page)
    await expect(page.locator(".status")).to_contain_text("showing")
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"]
    await tab.screenshot("phone-search")
    await page.locator("li.result").first.scroll_into_view_if_needed()
    await tab.screenshot("phone-search-results")


async def test_the_search_controls_are_reachable_by_keyboard(
    catalog_server: str, open_page: OpenPage
) -> None:
    tab = await open_page(catalog_server)
    page = tab.page
    await tab.goto()
    await settled(page)
    await expect(page.locator("li.result").first).to_be_visible()
    reached = set()
    for _ in range(50):
        await page.keyboard.press("Tab")
        reached.add(await page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.id || e.getAttribute('aria-label') || e.textContent.trim() })()"))
    wanted = {"Rectangle", "Polygon", "aoi-bbox", "date-start", "date-end", "sort", "Search",
              "mosaic-toggle"}
    assert {w for w in wanted if any(w in r for r in reached)} == wanted, reached
    first_id = await page.locator("li.result").first.get_attribute("data-item-id")
    assert first_id in reached


CLOUDY = """{ aggregate(where: [{property: "eo:cloud_cover", isNull: false}]) {
  byCollection { key count } } }"""
CLOUD_VALUES = """query($c: [String!]) { items(collections: $c, first: 1000,
  where: [{property: "eo:cloud_cover", isNull: false}]) {
  nodes { cloud: property(name: "eo:cloud_cover") } } }"""


async def test_the_cloud_slider_appears_for_collections_with_cloud_cover_and_filters(
    catalog_server: str, open_page: OpenPage
) -> None:
    buckets = (await graphql(catalog_server, CLOUDY))["aggregate"]["byCollection"]
    cloudy = max(buckets, key=lambda b: b["count"])["key"]
    clouds = sorted(n["cloud"] for n in (
        await graphql(catalog_server, CLOUD_VALUES, c=[cloudy]))["items"]["nodes"])
    threshold = int(clouds[len(clouds) // 2])  # about half the items pass
    tab = await open_page(catalog_server)
    page = tab.page
    await tab.goto()
    slider = page.get_by_label("Max cloud cover")
    await page.locator("input[name=collection][value=joplin]").check()
    await expect(slider).to_be_hidden()
    await page.locator("input[name=collection][value=joplin]").uncheck()
    await page.locator(f'input[name=collection][value="{cloudy}"]').check()
    await expect(slider).to_be_visible()
    await slider.fill(str(threshold))
    await expect(page.locator("output[for=cloud-max]")).to_have_text(f"{threshold} %")
    listed = await listed_ids(page)
    expected = await graphql_ids(
        catalog_server, collections=[cloudy],
        where=[{"property": "eo:cloud_cover", "lte": threshold}],
        sortBy=[{"field": "datetime", "direction": "DESC"}],
    )
    assert listed == expected
    assert 0 < len(listed) == sum(c <= threshold for c in clouds)
