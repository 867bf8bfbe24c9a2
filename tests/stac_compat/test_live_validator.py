"""stac-api-validator against a running ``stacql serve``, offline.

The validator runs in a subprocess through ``../shared/peer/validate_offline.py``, which
answers schema downloads from a local mirror of ``../shared/schemas`` and refuses every
other non-loopback URL at once, so these tests never reach the internet. The read-only
classes run on the catalog loaded with ``../shared/data/stac``; the Transaction class
writes, so it runs on its own server over the scratch catalog.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.ingest import upsert_collection
from catalog.operations.transactions import create_item
from tests.support.access import admin_key
from tests.support.paths import REPO, SHARED, STAC_DATA

OFFLINE_SHIM = SHARED / "peer" / "validate_offline.py"
SCHEMAS = SHARED / "schemas"
JOPLIN = STAC_DATA / "stac-fastapi-pgstac" / "joplin"
# The area of interest ../shared/peer/run_peer.sh validates the peer with.
JOPLIN_GEOMETRY = {
    "type": "Polygon",
    "coordinates": [[
        [-94.6884155, 37.0595608], [-94.6884155, 37.0332547], [-94.6554565, 37.0332547],
        [-94.6554565, 37.0595608], [-94.6884155, 37.0595608],
    ]],
}
# The item stac-api-validator 0.6.x creates, replaces, patches and deletes.
VALIDATOR_ITEM_ID = "S2A_47XNF_20230423_0_L2A"
# The Transaction class sleeps 2 s four times; each other class takes a few seconds.
VALIDATOR_TIMEOUT_S = 240
# stac-validator's message when an extension schema could not be downloaded: the check
# did not run, so it says nothing about the API (the object's core schema passed first).
_SCHEMA_UNAVAILABLE = re.compile(
    r"'error_message': '404 Client Error: [^']*? for url: (https://\S+?)[ '\]]"
)
# One HTTP exchange as urllib3 logs it at DEBUG level: method, path, status.
_EXCHANGE = re.compile(r'^DEBUG:urllib3\.connectionpool:(.*HTTP/1\.1" \d+.*)$', re.MULTILINE)


class UnverifiableOffline(UserWarning):
    """A validator check needed a schema that the offline mirror does not hold."""


@dataclass(frozen=True)
class ValidatorReport:
    """What one stac-api-validator run said."""

    output: str
    classes: tuple[str, ...]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]
    crashed: bool

    @property
    def unverifiable(self) -> tuple[str, ...]:
        """Errors that only say an extension schema is missing from the mirror."""
        return tuple(e for e in self.errors if _SCHEMA_UNAVAILABLE.search(e))

    @property
    def findings(self) -> tuple[str, ...]:
        """Errors about the API itself."""
        return tuple(e for e in self.errors if not _SCHEMA_UNAVAILABLE.search(e))

    def problems(self) -> str:
        """The findings (and a crash's traceback) as readable lines."""
        lines = [f"- {error}" for error in self.findings]
        if self.crashed:
            lines.append(self.output[self.output.find("Failed.") :][:4000])
            # Under --log-level DEBUG the exchanges show what led to the crash.
            lines += ["requests made:", *_EXCHANGE.findall(self.output)]
        return "\n".join(lines)


def parse_report(output: str) -> ValidatorReport:
    """Read the validator's ``Warnings:`` / ``Errors:`` lists and the classes it ran."""
    lists: dict[str, list[str]] = {"Warnings:": [], "Errors:": []}
    current: list[str] | None = None
    for line in output.splitlines():
        header = line.split(" ", 1)[0]
        if header in lists:
            current = lists[header]
        elif current is not None and line.startswith("- "):
            current.append(line[2:])
        elif current and not line.startswith("offline-shim:"):
            current[-1] += "\n" + line  # an error message spanning several lines
        else:
            current = None
    return ValidatorReport(
        output=output,
        classes=tuple(re.findall(r"Validating STAC API - (.*?) conformance class", output)),
        warnings=tuple(lists["Warnings:"]),
        errors=tuple(lists["Errors:"]),
        crashed=re.search(r"^Failed\.$", output, re.MULTILINE) is not None,
    )


def run_validator(root_url: str, schema_dir: Path, *arguments: str) -> ValidatorReport:
    """Run stac-api-validator offline on ``root_url`` with the given CLI arguments."""
    command = [
        sys.executable, str(OFFLINE_SHIM), "--schema-dir", str(schema_dir), "--",
        "--root-url", root_url, *arguments,
    ]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=VALIDATOR_TIMEOUT_S,
        check=False,
    )
    return parse_report(done.stdout + done.stderr)


def assert_clean(report: ValidatorReport, *expected: str) -> None:
    """The run did not crash, validated the ``expected`` classes and found nothing."""
    if report.unverifiable:
        schemas = sorted({m for e in report.unverifiable for m in _SCHEMA_UNAVAILABLE.findall(e)})
        warnings.warn(
            f"{len(report.unverifiable)} checks not run offline, schemas missing from the "
            f"mirror: {', '.join(schemas)}",
            UnverifiableOffline,
            stacklevel=2,
        )
    assert not report.crashed, f"the validator crashed:\n{report.problems()}"
    missing = [name for name in expected if name not in report.classes]
    assert not missing, f"not validated: {missing}; output:\n{report.output[-3000:]}"
    assert not report.findings, (
        f"{len(report.findings)} validator errors:\n{report.problems()}"
    )


def joplin_arguments(*conformance: str) -> list[str]:
    arguments = ["--collection", "joplin", "--geometry", json.dumps(JOPLIN_GEOMETRY)]
    for name in conformance:
        arguments += ["--conformance", name]
    return arguments


@pytest.fixture(scope="module")
def schema_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``../shared/schemas`` with the v1.1.0 core schemas' version fixed.

    The shared copy of v1.1.0 was made from the v1.1.0-beta.1 sources with only the
    ``$id``s rewritten, so its ``stac_version`` constants still say "1.1.0-beta.1" and
    every 1.1.0 document would fail on them.
    """
    mirror = tmp_path_factory.mktemp("schemas")
    shutil.copytree(SCHEMAS, mirror, dirs_exist_ok=True)
    for path in (mirror / "schemas.stacspec.org" / "v1.1.0").rglob("*.json"):
        text = path.read_text()
        path.write_text(text.replace('"const": "1.1.0-beta.1"', '"const": "1.1.0"'))
    return mirror


@pytest.mark.parametrize(
    ("conformance", "validated"),
    [
        pytest.param(["core"], ["Core"], id="core"),
        pytest.param(["core", "collections"], ["Core", "Collections"], id="collections"),
        pytest.param(["core", "features"], ["Core", "Features"], id="features"),
        pytest.param(["core", "item-search"], ["Core", "Item Search"], id="item-search"),
    ],
)
def test_conformance_class_validates_without_errors(
    catalog_server: str, schema_mirror: Path, conformance: list[str], validated: list[str]
) -> None:
    report = run_validator(catalog_server, schema_mirror, *joplin_arguments(*conformance))
    assert_clean(report, *validated)


def test_filter_extension_validates_without_errors(
    catalog_server: str, schema_mirror: Path
) -> None:
    arguments = joplin_arguments("core", "item-search", "filter")
    report = run_validator(catalog_server, schema_mirror, *arguments)
    # Without the filter conformance class advertised, the validator skips its checks.
    assert_clean(report, "Core", "Item Search", "Item Search - Filter Extension")


async def test_transaction_extension_validates_without_errors(
    scratch_server: str,
    scratch_sessions: async_sessionmaker[AsyncSession],
    schema_mirror: Path,
) -> None:
    # The validator opens with "DELETE the item if it exists" and wants 204, but a
    # DELETE of a missing item is a 404 (OGC API - Features - Part 4), so the item exists.
    item = json.loads((JOPLIN / "index.geojson").read_text())["features"][0]
    async with scratch_sessions() as session, session.begin():
        await upsert_collection(session, json.loads((JOPLIN / "collection.json").read_text()))
        await create_item(session, "joplin", {**item, "id": VALIDATOR_ITEM_ID})
    arguments = [
        *joplin_arguments("core", "transaction"),
        "--transaction-collection", "joplin", "--log-level", "DEBUG",
        "--auth-bearer-token", await admin_key(scratch_sessions),
    ]
    report = run_validator(scratch_server, schema_mirror, *arguments)
    assert_clean(report, "Core")
    assert "Transaction extension conformance class found" in report.output
