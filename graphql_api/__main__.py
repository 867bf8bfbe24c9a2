"""``python -m graphql_api`` writes the schema SDL to ``graphql_api/schema.graphql``."""

from graphql_api.schema import SDL_PATH, schema_sdl

SDL_PATH.write_text(schema_sdl())
print(f"wrote {SDL_PATH}")
