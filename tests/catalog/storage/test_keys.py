"""Storage keys: normal keys pass (normalized), every hostile form is refused."""

from __future__ import annotations

import pytest

from catalog.errors import InvalidStorageKey
from catalog.storage import check_key

HOSTILE_KEYS = {
    "empty": "",
    "only-slash": "/",
    "only-dots": "./.",
    "absolute": "/etc/passwd",
    "double-slash-absolute": "//server/share/x",
    "parent": "../secret",
    "parent-inside": "items/../../secret",
    "trailing-parent": "items/..",
    "backslash": "items\\x.tif",
    "backslash-parent": "..\\secret",
    "nul": "items/x\x00.tif",
    "newline": "items/x\n.tif",
    "escape": "items/\x1b[31mx",
    "delete-char": "items/x\x7f",
    "c1-control": "items/x\x85y",
    "tilde-home": "~/x.tif",
    "tilde-user": "~root/.ssh/id_rsa",
    "tilde-short-name": "PROGRA~1/x",
    "http-url": "http://example.com/x.tif",
    "s3-url": "s3://bucket/x.tif",
    "file-url": "file:///etc/passwd",
    "scheme-without-slashes": "javascript:alert(1)",
    "drive-letter": "C:/Windows/x",
    "too-long": "a" * 1025,
    "too-long-in-utf8": "é" * 513,
    "segment-too-long": "items/" + "b" * 256,
}


@pytest.mark.parametrize("key", HOSTILE_KEYS.values(), ids=HOSTILE_KEYS.keys())
def test_hostile_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        check_key(key)


def test_refusal_message_names_the_key() -> None:
    with pytest.raises(InvalidStorageKey, match=r"'\.\./secret'"):
        check_key("../secret")


def test_refusal_message_escapes_control_characters() -> None:
    with pytest.raises(InvalidStorageKey) as caught:
        check_key("x\ny")
    assert "\n" not in str(caught.value)


def test_refusal_message_cuts_a_long_key() -> None:
    with pytest.raises(InvalidStorageKey) as caught:
        check_key("a" * 5000)
    assert len(str(caught.value)) < 200


def test_non_string_key_is_refused() -> None:
    with pytest.raises(InvalidStorageKey):
        check_key(b"items/x.tif")  # type: ignore[arg-type]


def test_plain_key_is_unchanged() -> None:
    assert check_key("naip/m_3008501_ne_16_1_20110815/image.tif") == (
        "naip/m_3008501_ne_16_1_20110815/image.tif"
    )


@pytest.mark.parametrize(
    ("key", "normal"),
    [("a//b", "a/b"), ("./a/./b", "a/b"), ("a/b/", "a/b"), ("a/.", "a")],
)
def test_empty_and_dot_segments_are_dropped(key: str, normal: str) -> None:
    assert check_key(key) == normal


def test_key_is_nfc_normalized() -> None:
    assert check_key("cafe\u0301.tif") == "caf\u00e9.tif"


def test_colon_after_the_first_segment_is_allowed() -> None:
    assert check_key("items/2020-01-01T00:00:00Z.tif") == "items/2020-01-01T00:00:00Z.tif"


def test_dots_inside_names_are_allowed() -> None:
    assert check_key("a/..b/c..tif/.hidden") == "a/..b/c..tif/.hidden"


def test_key_of_exactly_1024_bytes_is_allowed() -> None:
    key = "/".join(["a" * 200] * 5) + "/" + "b" * 19
    assert len(key) == 1024
    assert check_key(key) == key
