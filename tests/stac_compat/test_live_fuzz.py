"""A bounded schemathesis run against /api of a live ``stacql serve``: no request may
get a server error (5xx), whatever its parameters or body.

Reads (GET, POST searches and aggregations) run on the loaded catalog; writes run on
the scratch catalog, where generated documents can do no harm.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.access import admin_key

FUZZ_SECONDS = 30
_SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli", "run"]


def fuzz(base_url: str, *selection: str) -> str:
    """Run schemathesis with the server-error checks only; returns its output."""
    command = [
        *_SCHEMATHESIS, f"{base_url}api",
        "--checks", "not_a_server_error",
        "--max-examples", "25",
        "--max-time", str(FUZZ_SECONDS),
        "--seed", "20261125",
        "--workers", "2",
        *selection,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=FUZZ_SECONDS * 3
    )
    return result.stdout + result.stderr


def server_errors(output: str) -> list[str]:
    """The failing operations schemathesis reports (one per server-error finding)."""
    if "FAILURES" not in output:
        return []
    section = output.split("FAILURES", 1)[1]
    return re.findall(r"^_+ (\w+ \S+) _+$", section, flags=re.MULTILINE)


def test_reads_never_get_a_server_error(catalog_server: str) -> None:
    output = fuzz(
        catalog_server,
        "--include-method", "GET", "--include-method", "POST",
        "--exclude-path-regex", "^/collections(/\\{collection_id\\}/items)?$",
    )
    assert "generated" in output, output[-2000:]
    assert server_errors(output) == [], output[-4000:]


async def test_writes_never_get_a_server_error(scratch_server: str, scratch_sessions) -> None:
    output = fuzz(
        scratch_server,
        "--include-method", "POST", "--include-method", "PUT",
        "--include-method", "PATCH", "--include-method", "DELETE",
        "--include-path-regex", "^/collections",
        "--header", f"X-API-Key: {await admin_key(scratch_sessions)}",
    )
    assert "generated" in output, output[-2000:]
    assert server_errors(output) == [], output[-4000:]
