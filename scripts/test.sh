#!/usr/bin/env bash
# Run the whole test suite against real PostgreSQL/PostGIS and Redis (set up first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACQL_SKIP_MIGRATE=1 bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec .venv/bin/python -m pytest "$@"
