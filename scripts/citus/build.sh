#!/usr/bin/env bash
# Build and install the Citus extension into the system PostgreSQL (Debian) from
# Citus's public source. Safe to run again: it does nothing when citus is installed.
#
#   scripts/citus/build.sh [CITUS_SRC]
#
# CITUS_SRC is a Citus source tree (default /tmp/citus-src). To get one without network
# access beyond Debian: `git --git-dir=<bare clone of citusdata/citus> archive v13.0.5 |
# tar -x -C /tmp/citus-src`. Citus 13.0 supports PostgreSQL 15, 16 and 17.
# Installing only adds files to PostgreSQL's lib and extension folders; the extension
# takes effect only in clusters that preload it (scripts/citus/cluster.sh).
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}"
CITUS_SRC="${1:-${CITUS_SRC:-/tmp/citus-src}}"

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

if [[ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" \
      && -f "$("$PG_CONFIG" --sharedir)/extension/citus.control" ]]; then
  log "citus already installed in $("$PG_CONFIG" --pkglibdir)"
  exit 0
fi

log "installing build dependencies (Debian)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  "postgresql-server-dev-$PG_MAJOR" libcurl4-openssl-dev liblz4-dev libzstd-dev \
  libkrb5-dev libssl-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev \
  autoconf flex bison make gcc >/dev/null

if [[ ! -x "$CITUS_SRC/configure" ]]; then
  echo "no Citus source tree at $CITUS_SRC (see the comment at the top)" >&2
  exit 1
fi

log "building citus from $CITUS_SRC"
cd "$CITUS_SRC"
# Configured once: configuring again rewrites the config headers and rebuilds all.
[[ -f Makefile.global ]] || PG_CONFIG="$PG_CONFIG" ./configure --quiet >/dev/null
# with_llvm=no: no LLVM bitcode for JIT inlining (halves the build; JIT still works).
make -s -j"${JOBS:-2}" with_llvm=no >/dev/null
make -s install with_llvm=no >/dev/null
log "installed: $("$PG_CONFIG" --pkglibdir)/citus.so"
