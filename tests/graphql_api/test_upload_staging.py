"""An upload is written and hashed off the event loop, chunk after chunk, in order."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path

import blake3
import pytest
from starlette.datastructures import UploadFile

from catalog.errors import InvalidInput
from graphql_api.uploads import CHUNK, _stage


def _upload(data: bytes) -> UploadFile:
    spooled = tempfile.SpooledTemporaryFile(max_size=1024)  # noqa: SIM115 (UploadFile closes it)
    spooled.write(data)
    spooled.seek(0)
    return UploadFile(spooled, filename="data.bin")


@pytest.mark.parametrize("algorithm", ["sha2-256", "blake3"])
def test_a_many_chunk_upload_is_stored_and_hashed_in_order(tmp_path: Path, algorithm: str) -> None:
    data = bytes(range(256)) * (CHUNK * 5 // 256) + b"tail"  # 5 chunks and a bit
    target = tmp_path / "data.bin"
    digest = asyncio.run(_stage(_upload(data), target, limit=len(data), checksum=algorithm))
    assert target.read_bytes() == data
    assert digest.size == len(data)
    expected = (
        "1220" + hashlib.sha256(data).hexdigest()
        if algorithm == "sha2-256"
        else "1e20" + blake3.blake3(data).hexdigest()
    )
    assert digest.hexdigest() == expected


def test_an_upload_over_the_limit_is_refused_and_its_writes_finish(tmp_path: Path) -> None:
    data = b"x" * (CHUNK * 3)
    with pytest.raises(InvalidInput, match="exceeds the upload limit"):
        asyncio.run(_stage(_upload(data), tmp_path / "big.bin", limit=CHUNK * 2))
    assert (tmp_path / "big.bin").stat().st_size == CHUNK * 2  # written up to the refusal
