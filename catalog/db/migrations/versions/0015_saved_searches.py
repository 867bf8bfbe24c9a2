"""Saved searches that notify: the searches, an outbox of item changes, and the notices
sent to their webhooks (the owner's delivery log).

Writers need not know about saved searches: statement triggers on ``items`` copy the keys
of the rows each statement wrote (its transition table) into ``saved_search_changes``,
but only while some saved search has a webhook, so loads pay nothing otherwise. The
matcher (``catalog.saved.matching``) consumes the outbox in batches.

Revision ID: 0015_saved_searches
Revises: 0011_property_indexes
"""

from alembic import op

revision = "0015_saved_searches"
down_revision = "0011_property_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE saved_searches (
            id uuid PRIMARY KEY,
            owner text NOT NULL,
            name text NOT NULL,
            search jsonb NOT NULL,
            readable_private text[],
            key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
            webhook_url text,
            secret text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX saved_searches_owner_idx ON saved_searches (owner, created_at, id);
        CREATE INDEX saved_searches_webhook_idx ON saved_searches (id)
            WHERE webhook_url IS NOT NULL;

        CREATE TABLE saved_search_changes (
            seq bigserial PRIMARY KEY,
            collection_id text COLLATE "C" NOT NULL,
            item_id text COLLATE "C" NOT NULL,
            changed_at timestamptz NOT NULL
        );

        CREATE TABLE saved_search_notices (
            id bigserial PRIMARY KEY,
            saved_search_id uuid NOT NULL REFERENCES saved_searches (id) ON DELETE CASCADE,
            items jsonb NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_status integer,
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz
        );
        CREATE INDEX saved_search_notices_search_idx
            ON saved_search_notices (saved_search_id, id);
        CREATE INDEX saved_search_notices_pending_idx
            ON saved_search_notices (saved_search_id, id) WHERE status = 'pending';

        CREATE FUNCTION stacql_saved_search_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM saved_searches WHERE webhook_url IS NOT NULL) THEN
                INSERT INTO saved_search_changes (collection_id, item_id, changed_at)
                SELECT collection_id, id, updated_at FROM written_items;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER items_saved_search_insert AFTER INSERT ON items
            REFERENCING NEW TABLE AS written_items
            FOR EACH STATEMENT EXECUTE FUNCTION stacql_saved_search_changes();
        CREATE TRIGGER items_saved_search_update AFTER UPDATE ON items
            REFERENCING NEW TABLE AS written_items
            FOR EACH STATEMENT EXECUTE FUNCTION stacql_saved_search_changes();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS items_saved_search_update ON items;
        DROP TRIGGER IF EXISTS items_saved_search_insert ON items;
        DROP FUNCTION IF EXISTS stacql_saved_search_changes();
        DROP TABLE saved_search_notices;
        DROP TABLE saved_search_changes;
        DROP TABLE saved_searches;
        """
    )
