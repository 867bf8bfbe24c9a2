"""Uploads to a storage folder whose disk is full fail with a clear error, keep nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.graphql_api.conftest import admin_key, app_settings
from tests.graphql_api.test_mutations import CREATE, a_collection
from tests.support.app_client import app_client
from tests.support.paths import RASTERS

NAIP_TIF = RASTERS / "naip/m_3008501_ne_16_1_20110815.tif"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: smaller than the raster uploaded into it."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


async def test_an_upload_to_a_full_disk_is_refused_clearly(
    tiny_disk: Path, scratch_url: str, scratch_sessions
) -> None:
    settings = app_settings(scratch_url, tiny_disk)
    headers = {"X-API-Key": await admin_key(scratch_sessions)}
    async with app_client(settings, headers) as (_app, client):
        made = await client.post("/graphql", json={"query": CREATE,
                                                   "variables": {"stac": a_collection("naip")}})
        assert "errors" not in made.json()
        operations = {"query": 'mutation($f: Upload!) { uploadAsset(file: $f, collectionId: '
                               '"naip") { id } }', "variables": {"f": None}}
        response = await client.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})},
            files={"0": (NAIP_TIF.name, NAIP_TIF.read_bytes())},
        )
        jobs = await client.post("/graphql", json={"query": "{ __typename }"})
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
    assert "the disk is full" in error["message"]
    assert jobs.status_code == 200
    assert not [p for p in tiny_disk.rglob("*") if p.is_file()]
