"""Reading metadata records: FGDC CSDGM in its indented text form, and XML safely.

The text form nests ``Name: value`` lines by indentation; a name with nothing after the
colon opens either nested names or a block of free text (an abstract, a process
description). Blank lines, tabs and any mix of CR/LF/CRLF line endings are tolerated.
The result keeps every value of a repeated name, in order, as the standard allows
repeats (``Place_Keyword``, ``Process_Step``).

XML goes through defusedxml: no DTD, no entity expansion, no external references, so a
hostile record cannot read files, reach URLs or exhaust memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple, TypeAlias
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from workers.errors import InvalidMetadata

FgdcValue: TypeAlias = "str | FgdcTree"
FgdcTree: TypeAlias = dict[str, list[FgdcValue]]
"""A parsed text record: each name maps to its values (text, or a nested tree)."""

_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_/\-]*):(?:\s+(.*)|)$")
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""Largest metadata record accepted; NAIP records are tens of kilobytes."""


class _Line(NamedTuple):
    number: int
    indent: int
    text: str


def _lines(text: str) -> list[_Line]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        expanded = raw.expandtabs(4).rstrip()
        if expanded.strip():
            lines.append(_Line(number, len(expanded) - len(expanded.lstrip()), expanded.strip()))
    return lines


def _deeper(lines: list[_Line], start: int, indent: int) -> int:
    """Index of the first line at ``start`` or after that is not deeper than ``indent``."""
    end = start
    while end < len(lines) and lines[end].indent > indent:
        end += 1
    return end


def _block(lines: list[_Line], start: int, indent: int) -> tuple[FgdcTree, int]:
    """Parse names at ``indent`` (or deeper) from ``start``; returns the tree and the
    index where the block ends."""
    tree: FgdcTree = {}
    i = start
    while i < len(lines) and lines[i].indent >= indent:
        line = lines[i]
        match = _NAME.match(line.text)
        if match is None:
            raise InvalidMetadata(
                f"FGDC text line {line.number}: expected 'Name: value', got {line.text[:60]!r}"
            )
        name, inline = match.group(1), (match.group(2) or "").strip()
        end = _deeper(lines, i + 1, line.indent)
        value: FgdcValue
        if inline or end == i + 1 or _NAME.match(lines[i + 1].text) is None:
            # An inline value or a free-text block: every deeper line continues it.
            value = " ".join([inline, *(lines[j].text for j in range(i + 1, end))]).strip()
        else:
            # Nested names; a line between this name's indent and theirs ends them and
            # is read as this name's sibling.
            value, end = _block(lines, i + 1, lines[i + 1].indent)
        tree.setdefault(name, []).append(value)
        i = end
    return tree, i


def parse_fgdc_text(text: str) -> FgdcTree:
    """The record under the top-level ``Metadata:`` name of an FGDC text record.

    Raises ``InvalidMetadata`` when the text is not such a record or a line cannot be
    read as ``Name: value`` where one is expected.
    """
    lines = _lines(text)
    if not lines or lines[0].text.rstrip(":") != "Metadata":
        raise InvalidMetadata("not an FGDC text record: it does not start with 'Metadata:'")
    tree, end = _block(lines, 0, lines[0].indent)
    if end != len(lines):
        raise InvalidMetadata(f"FGDC text line {lines[end].number}: outside the record")
    root = tree["Metadata"][0]
    if not isinstance(root, dict):
        raise InvalidMetadata("FGDC text record: 'Metadata' holds no sections")
    return root


def fgdc_values(tree: FgdcTree, path: Sequence[str]) -> list[FgdcValue]:
    """Every value found at ``path`` (names from the root; a name may contain '/')."""
    found: list[FgdcValue] = [tree]
    for name in path:
        found = [v for node in found if isinstance(node, dict) for v in node.get(name, [])]
    return found


def fgdc_text(tree: FgdcTree, path: Sequence[str]) -> str | None:
    """The first text value at ``path``, or None."""
    return next((v for v in fgdc_values(tree, path) if isinstance(v, str) and v), None)


def parse_xml(data: bytes) -> Element:
    """Parse an XML record safely (no DTD, entities or external references).

    Raises ``InvalidMetadata`` for malformed, oversized or hostile XML.
    """
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidMetadata(f"metadata record of {len(data)} bytes is too large")
    try:
        return safe_xml.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidMetadata(f"metadata XML refused: {exc}") from exc
    except ParseError as exc:
        raise InvalidMetadata(f"metadata XML is malformed: {exc}") from exc


def local_name(element: Element) -> str:
    """An element's tag without its namespace."""
    return element.tag.rsplit("}", 1)[-1]


def xml_texts(root: Element, path: Sequence[str]) -> list[str]:
    """Stripped texts of the elements at ``path`` below ``root``, matched by local name
    (so default and prefixed namespaces read the same)."""
    found = [root]
    for name in path:
        found = [child for node in found for child in node if local_name(child) == name]
    return [e.text.strip() for e in found if e.text and e.text.strip()]
