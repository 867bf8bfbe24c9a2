"""Bytes per item, relation by relation: ours (items and its partitions; before migration
0019 the assets table too) against pgstac (pgstac.items and its partitions), each heap,
TOAST and index counted on its own.

    .venv/bin/python bench/storage.py [--database stacql_bench_scale] \
        [--peer-database stacql_bench_scale_peer]

Both databases must hold the same items (``bench/scale.py`` loads them so); each figure
is a relation's size over the number of items in its database. Sizes are PostgreSQL's
(``pg_relation_size``: pages on disk, free space included), read after VACUUM ANALYZE.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

import psycopg

# Every relation of the item tables: heaps, their TOAST (table and index) and indexes.
_RELATIONS = """
WITH tables AS (
    SELECT c.oid, c.relname FROM pg_class c
    WHERE c.oid = ANY(%(roots)s::regclass[]) AND c.relkind = 'r'
    UNION
    SELECT t.relid, t.relid::regclass::text FROM unnest(%(roots)s::regclass[]) r,
        LATERAL pg_partition_tree(r) t WHERE t.isleaf
)
SELECT t.relname, 'heap', pg_relation_size(t.oid) FROM tables t
UNION ALL
SELECT t.relname, 'toast', pg_total_relation_size(c.reltoastrelid)
FROM tables t JOIN pg_class c ON c.oid = t.oid WHERE c.reltoastrelid <> 0
UNION ALL
SELECT t.relname, 'index ' || i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)
FROM tables t JOIN pg_index i ON i.indrelid = t.oid
"""


@dataclass(frozen=True)
class Relation:
    """One relation's size: its table, what it is (heap, toast, index NAME), bytes."""

    table: str
    part: str
    size: int


def conninfo(database: str) -> str:
    """A libpq connection string for ``database`` on the local server."""
    return f"host=127.0.0.1 port=5432 user=root dbname={database}"


def measure(database: str, roots: list[str], count_sql: str) -> tuple[int, list[Relation]]:
    """(items, relation sizes) of the item tables ``roots`` (partitions included)."""
    with psycopg.connect(conninfo(database), autocommit=True) as conn:
        items = conn.execute(count_sql).fetchone()[0]
        rows = conn.execute(_RELATIONS, {"roots": roots}).fetchall()
    return items, [Relation(*row) for row in rows]


def ours(database: str) -> tuple[int, list[Relation]]:
    """Our item tables."""
    return measure(database, ["items", "assets"], "SELECT count(*) FROM items")


def peer(database: str) -> tuple[int, list[Relation]]:
    """pgstac's item tables."""
    return measure(database, ["pgstac.items"], "SELECT count(*) FROM pgstac.items")


_PARTITION = re.compile(r"(pgstac\.)?_items_\d+_?")
# Ours: items_c_<digest> and items_default, their indexes <parent index>__<digest>.
_OUR_PARTITION = re.compile(r"^items_(c_[0-9a-f]{16}|default)$")
_OUR_PART_INDEX = re.compile(r"__([0-9a-f]{16}|default)$")


def report(label: str, items: int, relations: list[Relation]) -> int:
    """Print bytes per item per relation, pgstac's partitions summed as one (their
    indexes by what follows the partition's name); returns the total bytes."""
    sums: dict[tuple[str, str], int] = {}
    for r in relations:
        partition = _PARTITION.match(r.table) or _OUR_PARTITION.match(r.table)
        table = "items (partitions)" if partition else r.table
        part = _OUR_PART_INDEX.sub("", _PARTITION.sub("", r.part))
        sums[(table, part)] = sums.get((table, part), 0) + r.size
    total = sum(sums.values())
    print(f"{label}: {items} items, {total / 1e6:.1f} MB, {total / max(items, 1):.0f} bytes/item")
    for (table, part), size in sorted(sums.items(), key=lambda kv: -kv[1]):
        print(f"  {table:20} {part:44} {size / max(items, 1):8.0f} B/item {size / 1e6:9.1f} MB")
    return total


def main(argv: list[str] | None = None) -> int:
    """Print both reports and the ratio of bytes per item."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="stacql_bench_scale")
    parser.add_argument("--peer-database", default="stacql_bench_scale_peer")
    args = parser.parse_args(argv)
    n_ours, ours_rel = ours(args.database)
    n_peer, peer_rel = peer(args.peer_database)
    a = report(f"ours ({args.database})", n_ours, ours_rel)
    b = report(f"pgstac ({args.peer_database})", n_peer, peer_rel)
    print(f"bytes/item ours / pgstac: {(a / max(n_ours, 1)) / (b / max(n_peer, 1)):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
