"""The property indexes operators declare (``stacql db index-property``).

Sorting by an item property (``sortby=-properties.eo:cloud_cover``) ordered every
matching item to return ten; a range filter on one read them all. A declared property
gets a B-tree on the very expression the engine sorts and range-filters by,
``coalesce(properties -> name, 'null'::jsonb)``: catalog-wide (with ``collection_id, id``,
the rest of the sort order) or, declared for one collection, partial on it (with ``id``).
The indexes themselves are made by ``catalog.search.property_indexes`` with CREATE INDEX
CONCURRENTLY, writes going on; this table records which are declared (a declaration
outlives its collection, as the index does, and serves it again if it comes back).

Revision ID: 0011_property_indexes
Revises: 0010_item_text_index
"""

from alembic import op

revision = "0011_property_indexes"
down_revision = "0010_item_text_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE property_indexes (
            index_name text PRIMARY KEY,
            property text NOT NULL,
            collection_id text,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN SELECT index_name FROM property_indexes LOOP
                EXECUTE format('DROP INDEX IF EXISTS %I', name);
            END LOOP;
        END $$;
        DROP TABLE property_indexes;
        """
    )
