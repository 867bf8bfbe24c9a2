"""``stacql serve`` logs one line per request unless ``STACQL_API_ACCESS_LOG`` is off."""

from __future__ import annotations

import httpx
import pytest

from tests.support.live_server import live_server


@pytest.mark.parametrize("setting, logged", [("true", True), ("false", False)])
def test_access_log_follows_the_setting(scratch_url: str, setting: str, logged: bool) -> None:
    lines: list[str] = []
    with live_server(scratch_url, env={"STACQL_API_ACCESS_LOG": setting},
                     log_lines=lines) as url:
        assert httpx.get(url + "conformance", timeout=10).status_code == 200
    assert any("Application startup complete" in line for line in lines), lines
    assert any('"GET /conformance HTTP/1.1" 200' in line for line in lines) is logged, lines
