"""Items follow their collection by trigger and row lock, not by foreign key.

The foreign key from ``items`` to ``collections`` checked every inserted item on its
own: a query and a row lock per item, a twentieth of a bulk load's database time, to
prove again what the ingest service proves once per batch. The ingest service (the
only writer of items) now takes a KEY SHARE lock on the batch's collection rows before
writing, which is what each key check took: a collection cannot be deleted under a
batch being written. Deleting or truncating collections deletes their items through
statement-level triggers, which delete the items' assets in turn (migration 0002).

Revision ID: 0007_items_follow_collections
Revises: 0006_properties_index
"""

from alembic import op

revision = "0007_items_follow_collections"
down_revision = "0006_properties_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE items DROP CONSTRAINT IF EXISTS items_collection_id_fkey")
    op.execute(
        """
        CREATE FUNCTION stacql_delete_collection_items() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM items i USING stacql_deleted_collections d
            WHERE i.collection_id = d.id;
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER collections_delete_items AFTER DELETE ON collections
        REFERENCING OLD TABLE AS stacql_deleted_collections
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_delete_collection_items()
        """
    )
    op.execute(
        """
        CREATE FUNCTION stacql_truncate_collection_items() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Not TRUNCATE: that fails when the same statement truncates items too.
            DELETE FROM items;
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER collections_truncate_items AFTER TRUNCATE ON collections
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_truncate_collection_items()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS collections_truncate_items ON collections")
    op.execute("DROP FUNCTION IF EXISTS stacql_truncate_collection_items()")
    op.execute("DROP TRIGGER IF EXISTS collections_delete_items ON collections")
    op.execute("DROP FUNCTION IF EXISTS stacql_delete_collection_items()")
    op.execute(
        "DELETE FROM items i WHERE NOT EXISTS "
        "(SELECT 1 FROM collections c WHERE c.id = i.collection_id)"
    )
    op.execute(
        "ALTER TABLE items ADD CONSTRAINT items_collection_id_fkey FOREIGN KEY "
        "(collection_id) REFERENCES collections(id) ON DELETE CASCADE"
    )
