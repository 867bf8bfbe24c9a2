"""Export files expire, and saved searches hear of deleted items.

- ``jobs.expires_at``: when an export's file is removed (set by the worker when the
  export finishes, from ``STACQL_EXPORTS_RETENTION_SECONDS``); a partial index serves
  the cleanup's look for expired files.
- ``saved_search_deletions``: the rows of deleted items, copied by a statement trigger
  (only while some saved search has a webhook, as for writes), so the matcher can tell
  which saved searches a deleted item matched when it was deleted. The table is made
  ``LIKE items`` and the trigger copies ``SELECT *``: a migration that adds a column to
  ``items`` must add it here too, before ``seq`` (tests/catalog/saved compares them).
- ``saved_search_notices.event``: what a notice reports (``item.changed`` or
  ``item.deleted``).

Revision ID: 0016_expiry_deletions
Revises: 0015_saved_searches
"""

from alembic import op

revision = "0016_expiry_deletions"
down_revision = "0015_saved_searches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE jobs ADD COLUMN expires_at timestamptz;
        CREATE INDEX jobs_expires_idx ON jobs (expires_at) WHERE expires_at IS NOT NULL;

        ALTER TABLE saved_search_notices
            ADD COLUMN event text NOT NULL DEFAULT 'item.changed';

        CREATE TABLE saved_search_deletions (LIKE items);
        ALTER TABLE saved_search_deletions
            ADD COLUMN seq bigserial PRIMARY KEY,
            ADD COLUMN deleted_at timestamptz NOT NULL DEFAULT clock_timestamp();

        CREATE FUNCTION stacql_saved_search_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM saved_searches WHERE webhook_url IS NOT NULL) THEN
                -- The item's columns first; seq and deleted_at take their defaults.
                INSERT INTO saved_search_deletions SELECT * FROM deleted_items;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER items_saved_search_delete AFTER DELETE ON items
            REFERENCING OLD TABLE AS deleted_items
            FOR EACH STATEMENT EXECUTE FUNCTION stacql_saved_search_deletions();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS items_saved_search_delete ON items;
        DROP FUNCTION IF EXISTS stacql_saved_search_deletions();
        DROP TABLE saved_search_deletions;
        ALTER TABLE saved_search_notices DROP COLUMN event;
        DROP INDEX jobs_expires_idx;
        ALTER TABLE jobs DROP COLUMN expires_at;
        """
    )
