"""The hostile-request tests use the API clients of the STAC and GraphQL tests."""

from tests.graphql_api.conftest import gql
from tests.stac_compat.conftest import stac_client

__all__ = ["gql", "stac_client"]
