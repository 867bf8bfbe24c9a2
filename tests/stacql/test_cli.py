"""The ``stacql`` command line, run as a user runs it, against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text

from catalog.db.migrate import alembic_config
from catalog.ingest.loader import RETRY_DELAYS, retry_delays_within
from tests.support.paths import REPO, STAC_DATA

PLANET = STAC_DATA / "stactools/planet-disaster/collection.json"


def stacql(
    database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STACQL_DATABASE_URL": database_url, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "stacql.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )


def test_db_upgrade_twice_is_safe(scratch_url: str) -> None:
    first, second = stacql(scratch_url, "db", "upgrade"), stacql(scratch_url, "db", "upgrade")
    assert (first.returncode, second.returncode) == (0, 0)
    head = ScriptDirectory.from_config(alembic_config(scratch_url)).get_current_head()
    assert f"revision {head}" in second.stderr


async def test_static_catalog_loads_once_and_reloads_as_unchanged(
    scratch_url: str, scratch_sessions
) -> None:
    first = stacql(scratch_url, "ingest", str(PLANET))
    second = stacql(scratch_url, "ingest", str(PLANET))
    assert first.returncode == 0, first.stderr
    assert "5 inserted" in first.stderr
    assert "0 inserted, 0 updated, 5 unchanged" in second.stderr
    async with scratch_sessions() as session:
        hrefs = await session.scalars(text("SELECT href FROM assets WHERE key = 'visual'"))
        assert all(Path(href).is_file() for href in hrefs)


async def test_static_catalog_drops_structural_links(scratch_url: str, scratch_sessions) -> None:
    stacql(scratch_url, "ingest", str(PLANET))
    async with scratch_sessions() as session:
        rels = await session.scalars(
            text("SELECT DISTINCT l->>'rel' FROM items, jsonb_array_elements(links) l")
        )
        assert not {"self", "root", "parent", "collection"} & set(rels)


def test_malformed_json_fails_with_a_clear_message(
    scratch_url: str, scratch_sessions, tmp_path: Path
) -> None:
    bad = tmp_path / "items.ndjson"
    bad.write_text('{"type": "Feature", "id": "a"\n')
    result = stacql(scratch_url, "ingest", str(bad))
    assert result.returncode == 1
    assert "malformed JSON" in result.stderr and "Traceback" not in result.stderr


def test_items_without_their_collection_are_refused(
    scratch_url: str, scratch_sessions
) -> None:
    result = stacql(scratch_url, "ingest", str(STAC_DATA / "stac-fastapi-pgstac/test_item.json"))
    assert result.returncode == 1
    assert "unknown collection" in result.stderr


def test_unreachable_database_is_reported_without_traceback(tmp_path: Path) -> None:
    result = stacql(
        "postgresql+asyncpg://root@127.0.0.1:1/nowhere", "ingest", str(PLANET),
        env={"STACQL_INGEST_RETRY_SECONDS": "2"},
    )
    assert result.returncode == 1
    assert "database" in result.stderr and "Traceback" not in result.stderr
    # 0.5 and 1.0 fit in 2 s; the default (about 30 s) would try six times
    assert result.stderr.count("trying again in") == 2, result.stderr


def test_ingest_retry_delays_fit_the_setting() -> None:
    assert retry_delays_within(0) == ()
    assert retry_delays_within(3.5) == (0.5, 1.0, 2.0)
    assert retry_delays_within(30.5) == RETRY_DELAYS


HEAVY = ("sqlalchemy", "alembic", "shapely", "pydantic_settings", "asyncpg", "rasterio",
         "catalog.db", "catalog.ingest")


def test_help_imports_none_of_what_commands_need() -> None:
    # `stacql --help` (and shell completion) must not pay for SQLAlchemy, Alembic, shapely
    # and the settings: commands import them when they run (bench/cli.py times it).
    probe = (
        "import sys, contextlib\n"
        "from stacql.cli import app\n"
        "with contextlib.suppress(SystemExit):\n"
        "    app(['--help'])\n"
        "print('LOADED:', *sorted(m for m in sys.modules if m.split('.')[0] in"
        f" {sorted({h.split('.')[0] for h in HEAVY})!r} or m in {list(HEAVY)!r}),"
        " file=sys.stderr)\n"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, cwd=REPO)
    assert "Usage" in shown.stdout
    [line] = [line for line in shown.stderr.splitlines() if line.startswith("LOADED:")]
    assert line.split()[1:] == []


def test_every_command_has_help() -> None:
    for command in ("ingest", "worker", "watch", "serve", "db upgrade", "db property-usage",
                    "keys create", "collections private"):
        shown = subprocess.run([sys.executable, "-m", "stacql.cli", *command.split(), "--help"],
                               capture_output=True, text=True, cwd=REPO)
        assert shown.returncode == 0 and "Usage" in shown.stdout, (command, shown.stderr)


async def test_property_indexes_are_declared_listed_and_dropped(
    scratch_url: str, scratch_sessions
) -> None:
    assert stacql(scratch_url, "ingest", str(PLANET)).returncode == 0
    collection = "planet-disaster-data"
    made = stacql(scratch_url, "db", "index-property", "gsd", "--collection", collection)
    assert made.returncode == 0, made.stderr
    listed = stacql(scratch_url, "db", "property-indexes").stdout.split("\t")
    assert listed[:2] == ["gsd", collection] and listed[3].strip() == "valid"
    async with scratch_sessions() as session:
        found = await session.execute(text("SELECT to_regclass(:n)::text"), {"n": listed[2]})
        assert found.scalar() == listed[2]
    dropped = stacql(scratch_url, "db", "index-property", "gsd", "--collection", collection,
                     "--drop")
    assert dropped.returncode == 0
    assert stacql(scratch_url, "db", "property-indexes").stdout == ""
    refused = stacql(scratch_url, "db", "index-property", "datetime")
    assert refused.returncode == 1 and "INVALID_INPUT" in refused.stderr
