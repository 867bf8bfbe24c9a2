"""``graphql_api/schema.graphql`` is the schema the server runs."""

from __future__ import annotations

from graphql_api.schema import SDL_PATH, schema_sdl


def test_the_exported_schema_is_current() -> None:
    assert SDL_PATH.read_text() == schema_sdl(), (
        "graphql_api/schema.graphql is stale: run `python -m graphql_api`"
    )


def test_the_schema_has_the_promised_operations() -> None:
    sdl = schema_sdl()
    for operation in (
        "collections(", "collection(", "items(", "item(", "assets(", "job(", "aggregate(",
        "createCollection(", "updateCollection(", "deleteCollection(", "upsertItems(",
        "deleteItem(", "uploadAsset(", "ingestCatalog(", "itemsAdded(",
    ):
        assert operation in sdl, operation
