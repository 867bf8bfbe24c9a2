"""Free-text search (``q``): case-insensitive terms over titles, descriptions, keywords.

Terms are OR-ed, as the STAC free-text extension's basic form defines; a quoted term is
matched as one phrase. The text searched is the same for items (from their properties)
and collections (from their columns).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, or_

from catalog.errors import InvalidInput

MAX_TERMS = 20
_TERM = re.compile(r'"([^"]+)"|([^,\s]+)')


def parse_terms(q: str | Sequence[str] | None) -> list[str]:
    """The search terms of ``q`` (a string or a list of strings), lowercased."""
    if q is None:
        return []
    parts = [q] if isinstance(q, str) else list(q)
    if not all(isinstance(p, str) for p in parts):
        raise InvalidInput("q must be a string or a list of strings")
    terms = [
        (quoted or bare).strip().lower()
        for part in parts
        for quoted, bare in _TERM.findall(part)
    ]
    terms = [t for t in terms if t]
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"q has more than {MAX_TERMS} terms")
    return terms


def contains_pattern(term: str) -> str:
    """The ``LIKE`` pattern of text containing ``term`` (its wildcards escaped)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def any_like(document: ColumnElement, patterns: Sequence[Any]) -> ColumnElement:
    """``document`` is ``LIKE`` one of ``patterns`` (texts or bound parameters); false
    for none."""
    if not patterns:
        return false()
    return or_(*(document.like(p) for p in patterns))
