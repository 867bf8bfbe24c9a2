"""Storage keys: the relative POSIX paths under which assets are stored.

Every store funnels its keys through :func:`check_key`, so a key that could leave the
store's root or prefix is refused before any I/O, whatever the backend.
"""

from __future__ import annotations

import re
import unicodedata

from catalog.errors import InvalidStorageKey

MAX_KEY_BYTES = 1024
"""S3's limit on an object key (UTF-8 bytes); GCS and Azure allow at least as much."""

MAX_SEGMENT_BYTES = 255
"""The longest file name most local file systems accept."""

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates
_SHOWN_CHARS = 80


def shown_key(key: str) -> str:
    """``key`` quoted for an error message, control characters escaped, long keys cut."""
    text = key if len(key) <= _SHOWN_CHARS else key[:_SHOWN_CHARS] + "…"
    return repr(text)


def _refuse(key: str, reason: str) -> InvalidStorageKey:
    return InvalidStorageKey(f"invalid storage key {shown_key(key)}: {reason}")


def _check_characters(key: str) -> None:
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in key):
        raise _refuse(key, "control characters are not allowed")
    if "\\" in key:
        raise _refuse(key, "backslashes are not allowed; use '/' between segments")
    # '~' expands to a home folder in shells and names 8.3 short aliases on Windows
    # file systems (PROGRA~1), both ways to reach a file other than the one named.
    if "~" in key:
        raise _refuse(key, "'~' is not allowed")


def _check_form(key: str) -> None:
    if key.startswith("/"):
        raise _refuse(key, "absolute paths are not allowed")
    if _SCHEME.match(key):
        raise _refuse(key, "URLs and drive letters are not allowed; give a relative path")


def _segments(key: str) -> list[str]:
    segments = [s for s in key.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise _refuse(key, "'..' segments are not allowed")
    if not segments:
        raise _refuse(key, "the key is empty")
    for segment in segments:
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise _refuse(key, f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return segments


def check_key(key: str) -> str:
    """The normalized form of ``key``, or :class:`~catalog.errors.InvalidStorageKey`.

    A key is a relative POSIX path. Normalization applies Unicode NFC and drops empty and
    ``.`` segments (``./a//b/`` becomes ``a/b``). Refused, with a message naming the key:
    non-strings, empty keys, absolute paths, ``..`` segments, backslashes, control
    characters, ``~``, URL schemes or drive letters (``s3:``, ``file:``, ``C:``), a
    segment over 255 bytes and a key over 1024 bytes of UTF-8.
    """
    if not isinstance(key, str):
        raise InvalidStorageKey(f"invalid storage key {key!r}: a key must be a string")
    if not key:
        raise _refuse(key, "the key is empty")
    _check_characters(key)
    key = unicodedata.normalize("NFC", key)
    if len(key.encode()) > MAX_KEY_BYTES:
        raise _refuse(key, f"the key is longer than {MAX_KEY_BYTES} bytes")
    _check_form(key)
    return "/".join(_segments(key))


def key_under(base: str, href: str) -> str | None:
    """The valid key ``href`` names below the URL ``base`` (``base/key``), else None."""
    base = base.rstrip("/") + "/"
    if not href.startswith(base):
        return None
    try:
        return check_key(href[len(base):])
    except InvalidStorageKey:
        return None
