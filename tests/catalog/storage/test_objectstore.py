"""ObjectAssetStore specifics: hrefs, URLs and options (the store contract runs in
``test_contract.py`` on moto's S3 server)."""

from __future__ import annotations

import pytest

from catalog.errors import StorageError
from catalog.storage import ObjectAssetStore


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("s3://bucket/prefix/", "s3://bucket/prefix/x.tif"),
        ("gs://bucket", "gs://bucket/x.tif"),
        ("memory://", "memory:///x.tif"),
    ],
)
def test_href_is_scheme_bucket_prefix_key(url: str, href: str) -> None:
    assert ObjectAssetStore(url).href("x.tif") == href


def test_azure_href_names_the_container() -> None:
    store = ObjectAssetStore("az://container/a/b", account_name="account")
    assert store.href("x.tif") == "az://container/a/b/x.tif"


async def test_list_without_store_prefix_returns_whole_paths() -> None:
    store = ObjectAssetStore("memory://")
    await store.put("a/1.bin", b"1")
    assert await store.list() == ["a/1.bin"]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/assets",
        "file:///data/assets",
        "s3://",
        "s3://user:secret@bucket/prefix",
        "s3://bucket/prefix?versionId=1",
        "s3://bucket/../escape",
    ],
)
def test_unusable_url_raises_storage_error(url: str) -> None:
    with pytest.raises(StorageError):
        ObjectAssetStore(url)


def test_azure_without_account_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot configure object store 'az://container'"):
        ObjectAssetStore("az://container")


def test_unknown_option_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot configure object store 's3://bucket'"):
        ObjectAssetStore("s3://bucket", no_such_option="1")


def test_known_options_are_accepted() -> None:
    store = ObjectAssetStore("s3://bucket/p", region="eu-west-1", skip_signature=True)
    assert store.href("x.tif") == "s3://bucket/p/x.tif"
