"""Item and asset keys compare byte by byte (collation "C").

Every item writes one entry to each of the indexes on its key (the items' primary key,
``items_datetime_idx``, ``items_id_idx``) and every asset one to the assets' primary
key, and each entry is placed by comparing keys. Under a database's linguistic
collation a comparison of two strings goes through the C library's collation routine;
under "C" it is a comparison of bytes, which made the assets' key index half as costly
to maintain in a bulk load. Equality is the same under both, so lookups and joins (with
``collections.id`` too) find what they found. Ordering by id is now code point order,
the same on every server, as Python sorts strings; on a database whose collation is
C.UTF-8 it is the order it was already.

Revision ID: 0008_byte_order_keys
Revises: 0007_items_follow_collections
"""

from alembic import op

revision = "0008_byte_order_keys"
down_revision = "0007_items_follow_collections"
branch_labels = None
depends_on = None

_KEYS = {"items": ("collection_id", "id"), "assets": ("collection_id", "item_id", "key")}


def _collate(collation: str) -> None:
    for table, columns in _KEYS.items():
        changes = ", ".join(
            f'ALTER COLUMN {column} TYPE text COLLATE "{collation}"' for column in columns
        )
        op.execute(f"ALTER TABLE {table} {changes}")
        # A column's type change drops its statistics: without them the planner
        # misjudges searches until autovacuum gets to the table.
        op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
