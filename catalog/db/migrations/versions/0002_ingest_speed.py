"""Cheaper bulk loads: assets follow their items by trigger, not by foreign key.

A foreign key from ``assets`` to ``items`` checks every asset row on its own (one index
probe per row, four rows per item), which took more than half of a bulk load's database
time. Assets are only ever written by the ingest service, in the transaction that writes
their items, so the check guards nothing. What the key also did, deleting the assets of
deleted items (collections cascade to items), statement-level triggers now do in one set
operation, for a truncation of ``items`` too. The B-tree on ``assets.media_type``, which
no query uses, goes as well.

Revision ID: 0002_ingest_speed
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002_ingest_speed"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE assets DROP CONSTRAINT IF EXISTS assets_collection_id_item_id_fkey")
    op.execute("DROP INDEX IF EXISTS assets_media_type_idx")
    op.execute(
        """
        CREATE FUNCTION stacql_delete_item_assets() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM assets a USING stacql_deleted_items d
            WHERE a.collection_id = d.collection_id AND a.item_id = d.id;
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER items_delete_assets AFTER DELETE ON items
        REFERENCING OLD TABLE AS stacql_deleted_items
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_delete_item_assets()
        """
    )
    op.execute(
        """
        CREATE FUNCTION stacql_truncate_item_assets() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Not TRUNCATE: that fails when the same statement truncates assets too.
            DELETE FROM assets;
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER items_truncate_assets AFTER TRUNCATE ON items
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_truncate_item_assets()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS items_truncate_assets ON items")
    op.execute("DROP FUNCTION IF EXISTS stacql_truncate_item_assets()")
    op.execute("DROP TRIGGER IF EXISTS items_delete_assets ON items")
    op.execute("DROP FUNCTION IF EXISTS stacql_delete_item_assets()")
    op.execute("CREATE INDEX IF NOT EXISTS assets_media_type_idx ON assets (media_type)")
    op.execute("DELETE FROM assets a WHERE NOT EXISTS (SELECT 1 FROM items i "
               "WHERE i.collection_id = a.collection_id AND i.id = a.item_id)")
    op.execute(
        """
        ALTER TABLE assets ADD CONSTRAINT assets_collection_id_item_id_fkey
        FOREIGN KEY (collection_id, item_id) REFERENCES items (collection_id, id)
        ON DELETE CASCADE
        """
    )
