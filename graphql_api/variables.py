"""A bound on the values a GraphQL request's variables hold, checked as they are read.

graphql-core coerces every value of a variable before any resolver runs, on the event
loop: a list of two million numbers for a ``[JSON!]!`` variable (4 MB) held a worker for
about 18 s. Counting the values of the decoded JSON takes milliseconds.
"""

from __future__ import annotations

from typing import Any

MAX_VARIABLE_VALUES = 250_000
"""Values (numbers, strings, list entries, object members) a request's variables may hold:
about a second of coercion. Bulk loads go through STAC Transactions or ``stacql ingest``."""


class VariablesTooLarge(ValueError):
    """The variables hold more values than ``MAX_VARIABLE_VALUES``."""

    code = "VARIABLES_TOO_LARGE"


def check_variable_values(variables: Any, limit: int = MAX_VARIABLE_VALUES) -> None:
    """Raise ``VariablesTooLarge`` when ``variables`` (decoded JSON) hold more than
    ``limit`` values; stops counting at the first value past the limit."""
    count, pending = 0, [variables]
    while pending:
        value = pending.pop()
        count += 1
        if count > limit:
            raise VariablesTooLarge(
                f"the request's variables hold more than {limit:,} values; send large "
                "item batches through the STAC API's Transactions or `stacql ingest`"
            )
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
