"""Distributing a migrated catalog over a Citus cluster (see README, "Growing past one
machine"): not a feature of stacql yet, the layout ``bench/citus.py`` and
``tests/catalog/db/test_citus.py`` test our statements on.

``items`` is hashed by item id (or, to compare, by collection id) into shards spread
over the workers, its LIST partitions by collection with it (each partition is
distributed the same way, and partitions made later by
``stacql_ensure_item_partition`` are distributed as they are attached). An item's assets
are in its row (migration 0019), so they are on its node with it. The small tables
every search or write reads are reference tables (a copy on every node).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

REFERENCE_TABLES = (
    "collections", "property_indexes", "api_keys", "service_secrets", "item_templates"
)
"""Read by searches (visibility of private collections, declared property indexes,
queryables) and by every write (the collection row lock): a copy on every node."""

DISTRIBUTION_COLUMNS = {"id": "id", "collection": "collection_id"}
"""The distribution column of ``items``, by layout name."""

_TRIGGERS = """
SELECT tgrelid::regclass::text AS table_name, tgname FROM pg_trigger
WHERE tgrelid IN ('items'::regclass, 'collections'::regclass) AND NOT tgisinternal
ORDER BY 1, 2
"""


def distribute_catalog(conn: Connection, by: str = "id", shard_count: int = 32) -> list[str]:
    """Distribute a migrated catalog on the Citus coordinator ``conn`` (autocommit) and
    return what had to be given up (triggers, statistics).

    The statement triggers of ``items`` and ``collections`` are dropped: on a
    distributed table they would run on the shards, on the workers, where a ``NOTIFY``
    reaches none of the coordinator's listeners (GraphQL subscriptions) and the
    coordinator's tables they write (saved-search changes) are out of reach; the
    cascade they do (items of deleted collections) would have
    to be statements of the services. Extended statistics on expressions are dropped
    too (Citus makes them on plain columns only). Raises ``KeyError`` for an unknown layout.
    """
    item_column = DISTRIBUTION_COLUMNS[by]
    conn.execute(text("SELECT set_config('citus.shard_count', :n, false)"),
                 {"n": str(int(shard_count))})
    given_up = []
    for table_name, trigger in conn.execute(text(_TRIGGERS)).all():
        # Names read from the catalog, not from a caller.
        conn.execute(text(f'DROP TRIGGER "{trigger}" ON {table_name}'))
        given_up.append(f"{trigger} on {table_name}")
    # Citus creates extended statistics on plain columns only: the statistics of the
    # free-text expression (migration 0010), which every new partition copies, go.
    for (statistics,) in conn.execute(text(
        "SELECT stxname FROM pg_statistic_ext WHERE stxrelid = 'items'::regclass "
        "AND stxexprs IS NOT NULL"
    )).all():
        conn.execute(text(f'DROP STATISTICS "{statistics}"'))
        given_up.append(f"statistics {statistics} on items")
    for name in REFERENCE_TABLES:
        conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
    # A write of items, then of their collection's extent and queryables (a reference
    # table) in the same transaction: Citus allows it only when the items went over one
    # connection per node, not one per shard in parallel.
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    conn.exec_driver_sql(
        f'ALTER DATABASE "{database}" SET citus.multi_shard_modify_mode = \'sequential\''
    )
    conn.execute(text("SELECT create_distributed_table('items', :c)"), {"c": item_column})
    return given_up
