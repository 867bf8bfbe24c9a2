"""How deeply a filter nests, measured before any parser recurses into it.

The ``cql2`` parser recurses once per level of nesting on a thread's stack: some 1,500
nested parentheses, or 4,000 ``NOT``s in a row, overflow it and the whole process dies
with a segmentation fault (issue 16); orjson refuses to write JSON nested deeper than 254
levels. Both are refused here first, with ``InvalidFilter``, by loops that never recurse.
"""

from __future__ import annotations

import re
from typing import Any

from catalog.errors import InvalidFilter

MAX_NESTING = 100
"""Levels a filter may nest (the compiler accepts 64 predicates inside one another)."""
MAX_TEXT_PARENTHESES = 12
"""Parentheses a cql2-text filter may nest: the parser backtracks, and its time doubles
with each level of an expression it cannot read (20 unclosed ones took 2 s, 25 took
38 s); 12 levels cost it at most some 10 ms."""
MAX_TEXT_LENGTH = 200_000
"""Characters of a cql2-text filter (1,000 values of 100 characters in an ``IN`` list)."""

# Quoted literals and identifiers, brackets, prefix operators, and any other run of text.
_TOKENS = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[(\[{]|[)\]}]|(?i:\bnot\b)|[-+]|[^\s()\[\]{}'"+-]+"""
)


def text_nesting(text: str) -> int:
    """An upper bound of the parser's recursion on a cql2-text (or JSON) filter: open
    brackets plus the prefix operators (``NOT``, unary ``-`` / ``+``) in a row, at the
    deepest point."""
    depth = prefixes = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("(", "[", "{"):
            depth += 1
        elif token in (")", "]", "}"):
            depth, prefixes = depth - 1, 0
        elif token in ("-", "+") or token.lower() == "not":
            prefixes += 1
        else:
            prefixes = 0
        deepest = max(deepest, depth + prefixes)
    return deepest


def text_parentheses(text: str) -> int:
    """The deepest nesting of parentheses in a cql2-text filter (outside quoted text)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif token == ")":
            depth -= 1
    return deepest


def json_nesting(value: Any, bound: int = MAX_NESTING) -> int:
    """How many objects and arrays ``value`` nests, counted up to ``bound + 1``."""
    deepest = 0
    pending = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > bound:
            break
        children = node.values() if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_filter_nesting(value: str | dict[str, Any]) -> None:
    """Refuse a filter (cql2-text, or CQL2-JSON as text or object) that is too long or
    nested more than ``MAX_NESTING`` levels deep."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LENGTH:
            raise InvalidFilter(f"filter: more than {MAX_TEXT_LENGTH} characters")
        depth = text_nesting(value)
    else:
        depth = json_nesting(value)
    if depth > MAX_NESTING:
        raise InvalidFilter(f"filter: nested more than {MAX_NESTING} levels deep")
    if isinstance(value, str) and text_parentheses(value) > MAX_TEXT_PARENTHESES:
        raise InvalidFilter(
            f"filter: cql2-text may nest at most {MAX_TEXT_PARENTHESES} parentheses"
        )
