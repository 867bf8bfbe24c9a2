"""The space-time GiST index of ``items`` leads with a 30-day time bucket:
``(stacql_time_bucket(datetime), geometry, datetime)`` replaces ``(geometry, datetime)``.

A multi-column GiST index splits its pages by the first column, so the pages of the
index of migration 0017 each covered a patch of ground and the whole time range. A
search of an area in a time window, newest first (``catalog.search.engine._nearest_page``),
walks that index in time order, and every page over the area had items near the newest
time: it opened all of them, a number that grows with the catalog (at 1M items, 119
index and heap pages per search of a 0.25-2 degree box and a 30-day window, 0.6 ms;
10M items read several hundred). With the bucket first, pages split by month, then by
ground: the walk opens the pages of the window's buckets over the area (28 pages at 1M,
0.2 ms), and a search with no window the newest buckets' first. Same index size.

The bucket is the number of whole 30-day spans since 1970 (``floor(epoch / 2592000)``,
written with immutable operators so that it can be indexed); infinite times go to the
ends of the integer range.

Online: the new index is made on ``items`` alone, then built CONCURRENTLY on each
partition (for a collection split by time range, on each of its sub-partitions) and
attached, which makes it valid; then the old one is dropped, a catalog change under a
moment's exclusive lock on ``items`` (asked for with a short lock timeout, again after a
failed try). An interrupted upgrade is run again: invalid indexes left by a failed build
are dropped and built again, valid ones are kept.

Revision ID: 0023_item_time_bucket_gist
Revises: 0022_item_time_spans
"""

import time

from alembic import op
from sqlalchemy import text
from sqlalchemy.engine import Connection

revision = "0023_item_time_bucket_gist"
down_revision = "0022_item_time_spans"
branch_labels = None
depends_on = None

OLD = "items_geometry_datetime_gist"
NEW = "items_time_bucket_gist"
COLUMNS = "(stacql_time_bucket(datetime), geometry, datetime)"

_FUNCTION = r"""
CREATE OR REPLACE FUNCTION stacql_time_bucket(t timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN isfinite(t) THEN
            floor(extract(epoch FROM t - timestamptz '1970-01-01 00:00:00+00') / 2592000)::integer
        WHEN t > timestamptz '1970-01-01 00:00:00+00' THEN 2147483647
        ELSE -2147483648
    END
$$;
"""

# The direct partitions of a table, and whether each is itself partitioned.
_CHILDREN = """
SELECT c.relname, c.relkind = 'p' FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
WHERE inh.inhparent = to_regclass(quote_ident(:table)) ORDER BY 1
"""


def _state(bind: Connection, name: str) -> bool | None:
    """Whether index ``name`` is valid; None when there is none."""
    return bind.execute(text(
        "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(quote_ident(:n))"
    ), {"n": name}).scalar()


def _build(bind: Connection, name: str, table: str, partitioned: bool) -> None:
    """Index ``name`` on ``table``: built CONCURRENTLY on a table, or made on a
    partitioned table alone and built on each of its partitions, which are attached."""
    # Every name here comes from the catalog, none from a caller.
    if not partitioned:
        if _state(bind, name) is False:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
        op.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" USING gist {COLUMNS}'
        )
        return
    op.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON ONLY "{table}" USING gist {COLUMNS}')
    for child, child_partitioned in bind.execute(text(_CHILDREN), {"table": table}).all():
        # A sub-partition's index: "<index>_m202101", "<index>_default".
        child_index = name + child[len(table):]
        _build(bind, child_index, child, child_partitioned)
        op.execute(f'ALTER INDEX "{name}" ATTACH PARTITION "{child_index}"')


def _suffix(partition: str) -> str:
    """A partition's index suffix (``stacql_adopt_item_partition``): the digest of
    ``items_c_<digest>``, ``default`` for ``items_default``."""
    return partition.removeprefix("items_c_").removeprefix("items_")


def _drop_old(attempts: int = 20) -> None:
    """Drop the old index, each try waiting at most 2 s for the lock on ``items``."""
    op.execute("SET lock_timeout = '2s'")
    try:
        for attempt in range(attempts):
            try:
                op.execute(f"DROP INDEX IF EXISTS {OLD}")
                return
            except Exception as error:  # only a lock timeout is tried again
                if "lock timeout" not in str(error) or attempt == attempts - 1:
                    raise
                time.sleep(min(2**attempt, 30) / 10)
    finally:
        op.execute("RESET lock_timeout")


def upgrade() -> None:
    op.execute(_FUNCTION)
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        if _state(bind, NEW) is not True:
            op.execute(f"CREATE INDEX IF NOT EXISTS {NEW} ON ONLY items USING gist {COLUMNS}")
            partitions = bind.execute(text(_CHILDREN), {"table": "items"}).all()
            for partition, partitioned in partitions:
                index = f"{NEW}__{_suffix(partition)}"
                _build(bind, index, partition, partitioned)
                op.execute(f'ALTER INDEX {NEW} ATTACH PARTITION "{index}"')
        _drop_old()


def downgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS {OLD} ON items USING gist (geometry, datetime)")
    op.execute(f"DROP INDEX IF EXISTS {NEW}")
    op.execute("DROP FUNCTION IF EXISTS stacql_time_bucket(timestamptz)")
