"""The primary key of ``items`` becomes (collection_id, id, datetime).

PostgreSQL lets a partitioned table have a unique index only when it holds every
partition column, down every level: a collection's partition split by time range
(RANGE on ``datetime``, README "Growing past one machine") cannot sit under a key of
(collection_id, id). So the key takes ``datetime`` too; a lookup by (collection_id, id)
reads the same index's prefix. That an id is still unique in its collection is the
writers' work (``catalog.ingest.items``: a stored item whose datetime changes is
updated in place, not written twice).

Online: each partition's new index is built CONCURRENTLY (writes go on); then, in one
short transaction holding ``items`` exclusively for catalog changes only (no row is
read), the old key is dropped, each partition's new index becomes its primary key
(``ADD PRIMARY KEY USING INDEX``: the columns are NOT NULL, nothing is scanned) and is
attached to the parent's new key. An interrupted upgrade is run again: invalid indexes
left by a failed build are dropped and built again, valid ones are kept.

Revision ID: 0021_item_key_datetime
Revises: 0020_item_templates
"""

from alembic import op
from sqlalchemy import text

revision = "0021_item_key_datetime"
down_revision = "0020_item_templates"
branch_labels = None
depends_on = None

# The partitions that are tables (not themselves partitioned), every level down.
_LEAVES = """
SELECT c.relname, pk.relname AS key_name
FROM pg_partition_tree('items') t
JOIN pg_class c ON c.oid = t.relid
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
LEFT JOIN pg_class pk ON pk.oid = i.indexrelid
WHERE t.isleaf
ORDER BY c.relname
"""


def _swap_keys(columns: str) -> None:
    """Make ``(columns)`` the key of ``items`` and of every partition, from the unique
    indexes ``<partition>_key_new`` built beforehand (``_build_indexes``)."""
    op.execute(
        f"""
        DO $$
        DECLARE
            leaf record;
            names text[] := '{{}}';
            keys text[] := '{{}}';
            i integer;
        BEGIN
            LOCK TABLE items IN ACCESS EXCLUSIVE MODE;
            FOR leaf IN {_LEAVES} LOOP
                names := names || leaf.relname::text;
                keys := keys || coalesce(leaf.key_name::text, 'items_pkey__' || leaf.relname);
            END LOOP;
            ALTER TABLE items DROP CONSTRAINT items_pkey;
            FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
                EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I',
                               names[i], keys[i], names[i] || '_key_new');
            END LOOP;
            ALTER TABLE ONLY items ADD CONSTRAINT items_pkey PRIMARY KEY ({columns});
            FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
                EXECUTE format('ALTER INDEX items_pkey ATTACH PARTITION %I', keys[i]);
            END LOOP;
        END $$;
        """
    )


def _build_indexes(columns: str) -> None:
    """A unique index on ``(columns)`` of every partition, built CONCURRENTLY."""
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        for (leaf, _key) in bind.execute(text(_LEAVES)).all():
            # Names from the catalog, not from a caller.
            name = f"{leaf}_key_new"
            invalid = bind.execute(text(
                "SELECT NOT i.indisvalid FROM pg_index i "
                "WHERE i.indexrelid = to_regclass(:name)"
            ), {"name": f'"{name}"'}).scalar()
            if invalid:
                op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
            op.execute(
                f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{leaf}" '
                f"({columns})"
            )


def upgrade() -> None:
    _build_indexes("collection_id, id, datetime")
    _swap_keys("collection_id, id, datetime")


def downgrade() -> None:
    # Fails (unique violation) while an id is stored twice in a collection with two
    # datetimes, which the writers of this version never do.
    _build_indexes("collection_id, id")
    _swap_keys("collection_id, id")
