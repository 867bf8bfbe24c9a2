"""GraphiQL at ``/graphql`` from the browser build (``browser/src/graphiql``): the page
and every file it names come from stacql, none from a CDN (``graphql_api.ide``).
The page running a query in Chromium is tests/browser/test_graphiql.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from stacql.settings import BrowserSettings
from tests.graphql_api.conftest import GraphQL, app_settings
from tests.support.app_client import app_client
from tests.support.paths import REPO

BUILD = REPO / "browser" / "dist" / "graphiql"
HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
# Any absolute URL a stylesheet could load: url(http…), url(//…), @import "http…".
CSS_REMOTE = re.compile(r"""(url\(\s*['"]?|@import\s+['"])(https?:)?//""", re.IGNORECASE)


class References(HTMLParser):
    """The base, scripts, stylesheets and any other fetched URL of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.base: str | None = None
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "base":
            self.base = found.get("href")
        elif tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        elif tag in ("link", "img", "iframe") and (found.get("href") or found.get("src")):
            self.urls.append(found.get("href") or found.get("src") or "")


@pytest.fixture(scope="module")
def graphiql_build() -> Path:
    if not (BUILD / "index.html").is_file():
        pytest.fail(f"{BUILD} has no build: run `cd browser && npm ci && npm run build`")
    return BUILD


async def test_graphiql_and_all_it_loads_are_served_by_stacql(
    gql: GraphQL, graphiql_build: Path
) -> None:
    page = await gql.client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9]", page.text, re.IGNORECASE), page.text
    references = References()
    references.feed(page.text)
    assert references.base == "browse/graphiql/"
    base = urljoin(str(page.url), references.base)
    assert urlsplit(base).path == "/browse/graphiql/"
    loaded = {}
    for reference in references.urls:
        if reference.startswith("data:"):
            continue
        url = urljoin(base, reference)
        assert urlsplit(url).netloc == "stacql.test", url
        response = await gql.client.get(url)
        assert response.status_code == 200, url
        loaded[Path(urlsplit(url).path).name] = response
    assert {"graphiql.js", "graphiql.css"} <= loaded.keys()
    assert "javascript" in loaded["graphiql.js"].headers["content-type"]
    assert not CSS_REMOTE.search(loaded["graphiql.css"].text)
    for worker in ("editor.worker.js", "json.worker.js", "graphql.worker.js"):
        assert (await gql.client.get(urljoin(base, worker))).status_code == 200


async def test_strawberry_s_cdn_page_is_gone(gql: GraphQL, graphiql_build: Path) -> None:
    page = await gql.client.get("/graphql", headers=HTML)
    for cdn in ("unpkg.com", "jsdelivr", "esm.sh"):
        assert cdn not in page.text
    script = await gql.client.get("/browse/graphiql/graphiql.js")
    assert "unpkg.com" not in script.text and "esm.sh/" not in script.text


async def test_without_a_build_graphql_says_how_to_build_graphiql(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = app_settings(scratch_url, tmp_path / "assets").model_copy(
        update={"browser": BrowserSettings(dir=tmp_path / "missing")})
    async with app_client(settings) as (_, client):
        page = await client.get("/graphql", headers=HTML)
        query = await client.get("/graphql", params={"query": "{ __typename }"}, headers=HTML)
    assert page.status_code == 503
    assert "npm ci &amp;&amp; npm run build" in page.text
    assert query.json() == {"data": {"__typename": "Query"}}
