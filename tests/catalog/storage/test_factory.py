"""Choosing a store from a configured location."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.errors import StorageError
from catalog.storage import AssetStore, LocalAssetStore, ObjectAssetStore, create_asset_store


def test_plain_path_gives_a_local_store(tmp_path: Path) -> None:
    store = create_asset_store(str(tmp_path / "assets"))
    assert isinstance(store, LocalAssetStore)
    assert store.root == (tmp_path / "assets").resolve()


def test_relative_path_is_taken_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = create_asset_store("var/assets")
    assert isinstance(store, LocalAssetStore)
    assert store.root == (tmp_path / "var" / "assets").resolve()


def test_file_url_gives_a_local_store(tmp_path: Path) -> None:
    store = create_asset_store((tmp_path / "my assets").as_uri())
    assert isinstance(store, LocalAssetStore)
    assert store.root == (tmp_path / "my assets").resolve()


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "gs://bucket", "memory://"])
def test_object_store_url_gives_an_object_store(url: str) -> None:
    assert isinstance(create_asset_store(url), ObjectAssetStore)


def test_options_reach_the_object_store() -> None:
    store = create_asset_store("az://container/p", {"account_name": "account"})
    assert store.href("x.tif") == "az://container/p/x.tif"


def test_created_stores_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(create_asset_store(str(tmp_path)), AssetStore)
    assert isinstance(create_asset_store("memory://"), AssetStore)


async def test_local_store_from_factory_round_trips(tmp_path: Path) -> None:
    store = create_asset_store(tmp_path.as_uri())
    await store.put("x.bin", b"1")
    assert (tmp_path / "x.bin").read_bytes() == b"1"


@pytest.mark.parametrize(
    "location",
    ["", "  ", "http://example.com/assets", "ftp://host/x", "file://otherhost/data"],
)
def test_unusable_location_raises_storage_error(location: str) -> None:
    with pytest.raises(StorageError):
        create_asset_store(location)


def test_options_for_a_local_store_raise_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="object stores"):
        create_asset_store(str(tmp_path), {"region": "eu-west-1"})
