#!/usr/bin/env bash
# A throwaway Citus cluster on this machine: a coordinator and two workers, each its own
# PostgreSQL instance under $CITUS_DIR, on ports $CITUS_PORT, +1, +2. It never touches the
# system cluster. Needs citus installed (scripts/citus/build.sh), PostGIS and the
# contrib modules. Safe to run again: each step does only what is missing.
#
#   scripts/citus/cluster.sh start            # initdb (first time) and start the 3 nodes
#   scripts/citus/cluster.sh createdb NAME    # NAME on every node, citus in it, workers added
#   scripts/citus/cluster.sh dropdb NAME
#   scripts/citus/cluster.sh stop             # stop the nodes, keep their data
#   scripts/citus/cluster.sh destroy          # stop and delete everything under $CITUS_DIR
#
# The superuser is `root` (trust authentication on 127.0.0.1), so a database is reached
# as postgresql+asyncpg://root@127.0.0.1:$CITUS_PORT/NAME. The nodes run as the OS user
# postgres when started by root (PostgreSQL refuses to run as root).
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
CITUS_DIR="${CITUS_DIR:-/tmp/stacql-citus}"
CITUS_PORT="${CITUS_PORT:-5441}"
NODES=(coordinator worker1 worker2)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_of() { echo $((CITUS_PORT + $1)); }

psql_node() {  # psql_node INDEX DATABASE SQL
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U root -p "$(port_of "$1")" \
    -d "$2" -tA -c "$3"
}

start() {
  if [[ ! -f "$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || pg_config --pkglibdir)/citus.so" ]]; then
    echo "citus is not installed: run scripts/citus/build.sh first" >&2; exit 1
  fi
  mkdir -p "$CITUS_DIR"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$CITUS_DIR"
  for i in "${!NODES[@]}"; do
    local data="$CITUS_DIR/${NODES[$i]}" port
    port="$(port_of "$i")"
    if [[ ! -f "$data/PG_VERSION" ]]; then
      log "initdb ${NODES[$i]} (port $port)"
      as_owner "$PG_BIN/initdb" -D "$data" -U root -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
      # Small and unsafe on purpose: a test cluster on a shared machine.
      cat >> "$data/postgresql.conf" <<CONF
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
shared_buffers = 64MB
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 16
citus.max_client_connections = 150
CONF
    fi
    if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      log "starting ${NODES[$i]} on $port"
      as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 120 start >/dev/null
    fi
  done
}

createdb() {
  local name="$1"
  for i in "${!NODES[@]}"; do
    if [[ -z "$(psql_node "$i" postgres "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]]; then
      psql_node "$i" postgres "CREATE DATABASE \"$name\""
    fi
    psql_node "$i" "$name" "CREATE EXTENSION IF NOT EXISTS citus"
  done
  psql_node 0 "$name" "SELECT citus_set_coordinator_host('127.0.0.1', $(port_of 0))" >/dev/null
  for i in 1 2; do
    if [[ -z "$(psql_node 0 "$name" "SELECT 1 FROM pg_dist_node WHERE nodeport = $(port_of "$i")")" ]]; then
      psql_node 0 "$name" "SELECT citus_add_node('127.0.0.1', $(port_of "$i"))" >/dev/null
    fi
  done
  log "database $name: coordinator and $(psql_node 0 "$name" "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0") workers"
}

dropdb() {
  for i in "${!NODES[@]}"; do
    psql_node "$i" postgres "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
  done
}

stop() {
  for i in "${!NODES[@]}"; do
    local data="$CITUS_DIR/${NODES[$i]}"
    if [[ -f "$data/postmaster.pid" ]]; then
      log "stopping ${NODES[$i]}"
      as_owner "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
  done
}

case "${1:-}" in
  start) start ;;
  createdb) start; createdb "${2:?database name}" ;;
  dropdb) dropdb "${2:?database name}" ;;
  stop) stop ;;
  destroy) stop; rm -rf "$CITUS_DIR"; log "removed $CITUS_DIR" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
