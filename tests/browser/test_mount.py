"""``/browse`` in ``create_app``: the build folder from the settings, or a 503 page saying
how to build it."""

from __future__ import annotations

from pathlib import Path

import httpx

from stacql.app import create_app
from stacql.settings import BrowserSettings
from tests.graphql_api.conftest import app_settings


async def get(settings, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://stacql.test") as client:
        return await client.get(path)


async def test_without_a_build_browse_says_how_to_build_it(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = app_settings(scratch_url, tmp_path / "assets").model_copy(
        update={"browser": BrowserSettings(dir=tmp_path / "missing")})
    response = await get(settings, "/browse/")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "npm ci &amp;&amp; npm run build" in response.text
    assert str(tmp_path / "missing") in response.text


async def test_browse_serves_the_configured_build(scratch_url: str, tmp_path: Path) -> None:
    build = tmp_path / "dist"
    build.mkdir()
    (build / "index.html").write_text("<!doctype html><title>built</title>")
    (build / "app.js").write_text("console.log('built')")
    settings = app_settings(scratch_url, tmp_path / "assets").model_copy(
        update={"browser": BrowserSettings(dir=build)})
    page = await get(settings, "/browse/")
    assert (page.status_code, page.text) == (200, "<!doctype html><title>built</title>")
    script = await get(settings, "/browse/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert (await get(settings, "/browse/nothing.js")).status_code == 404
    redirect = await get(settings, "/browse")
    assert redirect.status_code in (307, 308)
    assert redirect.headers["location"].endswith("/browse/")
