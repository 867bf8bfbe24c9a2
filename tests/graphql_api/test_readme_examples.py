"""The GraphQL examples of README.md run without errors (so the README stays true)."""

from __future__ import annotations

import re

import pytest

from tests.graphql_api.conftest import GraphQL
from tests.support.paths import REPO


def readme_operations() -> list[str]:
    """Each operation of the README's ``graphql`` code blocks (separated by # comments)."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```graphql\n(.*?)```", text, flags=re.DOTALL)
    operations = []
    for block in blocks:
        for chunk in re.split(r"\n\s*\n(?=#)", block):
            body = "\n".join(line for line in chunk.splitlines() if not line.startswith("#"))
            if body.strip():
                operations.append(body)
    return operations


OPERATIONS = readme_operations()
QUERIES = [op for op in OPERATIONS if not op.lstrip().startswith(("mutation", "subscription"))]
MUTATIONS = [op for op in OPERATIONS if op.lstrip().startswith("mutation")]


def test_the_readme_has_examples() -> None:
    assert len(QUERIES) >= 5 and MUTATIONS


@pytest.mark.parametrize("query", QUERIES)
async def test_readme_query_runs(gql: GraphQL, query: str) -> None:
    data = await gql.data(query)
    assert data and all(value is not None for value in data.values())


@pytest.mark.parametrize("mutation", MUTATIONS)
async def test_readme_mutation_runs(scratch_gql: GraphQL, mutation: str) -> None:
    assert await scratch_gql.data(mutation)
