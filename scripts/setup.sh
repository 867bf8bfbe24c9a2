#!/usr/bin/env bash
# Prepare a machine for stacql: Python dependencies in .venv, PostgreSQL + PostGIS and
# Redis running, the database migrated. Safe to run again; it only does what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/.venv"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

install_python_deps() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.stacql-deps" want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "installing Python dependencies"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 \
      | grep -v '^WARNING: Location' || true
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 \
      | grep -v '^WARNING: Location' || true
    "$VENV/bin/python" -c "import catalog, stacql" # fail here when the install failed
    echo "$want" > "$stamp"
  fi
}

start_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL did not start" >&2; return 1
}

ensure_postgis() {
  local available
  available="$(psql -h 127.0.0.1 -U "${PGUSER:-root}" -d postgres -Atc \
    "select count(*) from pg_available_extensions where name = 'postgis'")"
  if [[ "$available" == "0" ]]; then
    local major
    major="$(psql -h 127.0.0.1 -U "${PGUSER:-root}" -d postgres -Atc 'show server_version_num' | cut -c1-2)"
    log "installing PostGIS for PostgreSQL $major"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "postgresql-$major-postgis-3" > /dev/null
  fi
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping > /dev/null 2>&1; then return 0; fi
  if ! command -v redis-server > /dev/null; then
    log "installing Redis"
    apt-get update -qq && apt-get install -y -qq redis-server > /dev/null
  fi
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
}

install_chromium() {
  # Headless Chromium for the browser's end-to-end tests (tests/browser), from Debian:
  # playwright drives it, and never downloads a browser of its own.
  if command -v chromium > /dev/null; then return 0; fi
  log "installing Chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium > /dev/null
}

build_browser() {
  # The catalog browser served at /browse: rebuilt when its sources or lock file change.
  local dir="$ROOT/browser" stamp="$ROOT/browser/dist/.stacql-build" want
  if ! command -v npm > /dev/null; then
    log "installing Node.js and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq nodejs npm > /dev/null
  fi
  want="$(cd "$dir" && find package.json package-lock.json tsconfig.json build.mjs src -type f -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "building the catalog browser (browser/ → browser/dist)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
    echo "$want" > "$stamp"
  fi
}

install_azurite() {
  # Azurite (Microsoft's Azure Storage emulator) for the object-store tests; pinned by
  # scripts/azurite/package-lock.json, reinstalled when the lock file changes.
  local dir="$ROOT/scripts/azurite" stamp="$ROOT/scripts/azurite/node_modules/.stacql-install" want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    log "installing Azurite (scripts/azurite)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error > /dev/null)
    echo "$want" > "$stamp"
  fi
}

install_python_deps
build_browser
install_azurite
install_chromium
start_postgres
ensure_postgis
start_redis
if [[ "${STACQL_SKIP_MIGRATE:-0}" != 1 ]]; then
  log "migrating the database"
  "$VENV/bin/stacql" db upgrade
fi
