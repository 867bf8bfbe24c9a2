"""The STAC Query extension (``{"prop": {"lt": 10}}``) translated to CQL2-JSON, so one
compiler serves both syntaxes."""

from __future__ import annotations

from typing import Any

from catalog.errors import InvalidFilter

_COMPARISONS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _condition(name: str, op: str, value: Any) -> dict[str, Any]:
    prop = {"property": name}
    if op in _COMPARISONS:
        return {"op": _COMPARISONS[op], "args": [prop, value]}
    if op == "in":
        if not isinstance(value, list) or not value:
            raise InvalidFilter(f"query: 'in' on {name!r} needs a non-empty list")
        return {"op": "in", "args": [prop, value]}
    if op in ("startsWith", "endsWith", "contains"):
        if not isinstance(value, str):
            raise InvalidFilter(f"query: {op!r} on {name!r} needs a string")
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"startsWith": f"{escaped}%", "endsWith": f"%{escaped}"}.get(
            op, f"%{escaped}%"
        )
        return {"op": "like", "args": [prop, pattern]}
    raise InvalidFilter(f"query: unknown operator {op!r} on {name!r}")


def query_to_cql2(query: Any) -> dict[str, Any] | None:
    """The CQL2-JSON equivalent of a Query-extension object (None when empty).

    Raises ``InvalidFilter`` for anything that is not ``{name: {op: value}}``.
    """
    if query in (None, {}):
        return None
    if not isinstance(query, dict):
        raise InvalidFilter("query must be an object of {property: {operator: value}}")
    conditions = []
    for name, ops in query.items():
        if not isinstance(ops, dict) or not ops:
            raise InvalidFilter(f"query: {name!r} needs an object of operators")
        conditions += [_condition(name, op, value) for op, value in ops.items()]
    return conditions[0] if len(conditions) == 1 else {"op": "and", "args": conditions}
