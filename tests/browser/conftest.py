"""Headless Debian Chromium (driven by playwright, no browser download) against a live
``stacql serve``: the catalog browser at ``/browse`` tested the way a user meets it.

Every page opened through ``open_page`` fails its test on any console error or uncaught
exception, and on any request leaving stacql other than an item's thumbnail image: the
sample items' thumbnails live on the public internet, which tests do not reach, so those
images are answered here with a 1-pixel PNG.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Route, async_playwright, expect

from tests.support.live_server import live_server
from tests.support.paths import REPO

CHROMIUM = Path(os.environ.get("STACQL_TEST_CHROMIUM", "/usr/bin/chromium"))
BUILD = REPO / "browser" / "dist"
SCREENSHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# A transparent 1x1 PNG, standing in for thumbnails hosted on the internet.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR4nGNgYAAAAAMAASsJTYQAAAAASUVORK5CYII="
)


@dataclass
class BrowserPage:
    """A page of the browser under test, with what it logged and fetched elsewhere."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    foreign_requests: list[tuple[str, str]] = field(default_factory=list)

    async def goto(self, route: str = "") -> None:
        """Open ``/browse/`` at a hash route such as ``#/upload``."""
        await self.page.goto(f"{self.base_url}browse/{route}")

    async def screenshot(self, name: str) -> Path:
        """Save a PNG of the whole page under tests/browser/screenshots/."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        return path

    def check_clean(self) -> None:
        """No console error; nothing fetched outside stacql but thumbnail images."""
        assert not self.errors, "console errors:\n" + "\n".join(self.errors)
        not_images = [url for kind, url in self.foreign_requests if kind != "image"]
        assert not not_images, f"requests outside stacql: {not_images}"


OpenPage = Callable[..., Awaitable[BrowserPage]]


@pytest.fixture(scope="session")
def browser_build() -> Path:
    """The built browser (``npm run build`` in browser/, which scripts/setup.sh runs)."""
    if not (BUILD / "index.html").is_file():
        pytest.fail(f"{BUILD} has no build: run `cd browser && npm ci && npm run build`")
    return BUILD


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (``apt-get install chromium``; scripts/setup.sh does it)."""
    if not CHROMIUM.is_file() and not shutil.which(str(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
def catalog_server(catalog_url: str, loaded_sessions, browser_build: Path) -> Iterator[str]:
    """``stacql serve`` over the catalog holding ``../shared/data/stac`` (read-only)."""
    with live_server(catalog_url) as url:
        yield url


@pytest.fixture
async def open_page(chromium: Browser) -> AsyncIterator[OpenPage]:
    """Opens pages on a server; each is checked clean (see ``BrowserPage``) at the end."""
    opened: list[BrowserPage] = []

    async def open_(base_url: str, viewport: dict[str, int] = DESKTOP) -> BrowserPage:
        # Reduced motion: the page then moves its map without animation, so a click
        # right after a move lands where the test computed it would.
        context = await chromium.new_context(viewport=viewport, reduced_motion="reduce")
        page = await context.new_page()
        tracked = BrowserPage(page, base_url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tracked.errors.append(f"{message.text} at {message.location.get('url')}")

        async def elsewhere(route: Route) -> None:
            request = route.request
            tracked.foreign_requests.append((request.resource_type, request.url))
            if request.resource_type == "image":
                await route.fulfill(status=200, content_type="image/png", body=PIXEL)
            else:
                await route.abort()

        page.on("console", on_console)
        page.on("pageerror", lambda error: tracked.errors.append(f"uncaught: {error}"))
        await page.route(lambda url: not url.startswith(base_url), elsewhere)
        opened.append(tracked)
        return tracked

    yield open_
    for tracked in opened:
        await tracked.page.context.close()
    for tracked in opened:
        tracked.check_clean()


async def graphql(
    base_url: str, query: str, key: str | None = None, **variables: object
) -> dict:
    """The ``data`` of a GraphQL operation sent straight to the server (no browser), with
    ``key`` as the API key when given."""
    headers = {"X-API-Key": key} if key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, headers=headers) as client:
        response = await client.post("graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def settled(page: Page) -> None:
    """Wait until the search page shows the last search it sent (it is busy until then)."""
    await expect(page.locator("#main")).not_to_have_attribute("aria-busy", "true")
