#!/usr/bin/env bash
# Set up stacql on this machine and load a sample of ../shared/data/stac into it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPLE="${STACQL_SAMPLE_DIR:-$ROOT/../shared/data/stac}"
bash "$ROOT/scripts/setup.sh"

"$ROOT/.venv/bin/stacql" ingest \
  "$SAMPLE/pgstac/planetary-computer/data/naip/collection.json" \
  "$SAMPLE/pgstac/planetary-computer/data/naip/items.ndjson" \
  "$SAMPLE/stac-fastapi-pgstac/joplin/collection.json" \
  "$SAMPLE/stac-fastapi-pgstac/joplin/index.geojson" \
  "$SAMPLE/stactools/planet-disaster/collection.json" \
  "$SAMPLE/stac-server/landsat-8-l1-collection.json" \
  "$SAMPLE/stac-server/stac/LC80100102015050LGN00.json" \
  "$SAMPLE/stac-server/stac/LC80100102015082LGN00.json"
echo "stacql is set up: database $("$ROOT/.venv/bin/stacql" db current) with the sample loaded." >&2
