#!/usr/bin/env bash
# Set up stacql on this machine, load a sample of ../shared/data/stac and serve the API.
# STACQL_NO_SERVE=1 stops after loading.
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
if [[ "${STACQL_NO_SERVE:-0}" == 1 ]]; then exit 0; fi
# One worker beside the API, so uploads and ingest jobs run; it stops with the script.
"$ROOT/.venv/bin/stacql" worker &
WORKER=$!
trap 'kill "$WORKER" 2>/dev/null; wait "$WORKER" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
echo "serving the STAC API, GraphQL (/graphql) and the browser (/browse/) on http://${STACQL_API_HOST:-127.0.0.1}:${STACQL_API_PORT:-8080}/ with a worker (Ctrl-C stops both)" >&2
"$ROOT/.venv/bin/stacql" serve
