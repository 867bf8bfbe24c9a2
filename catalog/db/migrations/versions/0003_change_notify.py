"""Notify listeners when items or jobs change (GraphQL subscriptions).

A statement-level trigger sends one ``stacql_items`` notification per writing statement
(PostgreSQL folds identical notifications of a transaction into one and delivers them at
commit), so a bulk load of 100,000 items costs one notification, not 100,000. Job rows
change one at a time, so their trigger sends the job id on ``stacql_jobs``.

Revision ID: 0003_change_notify
Revises: 0002_ingest_speed
"""

from alembic import op

revision = "0003_change_notify"
down_revision = "0002_ingest_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION stacql_notify_items() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('stacql_items', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER items_notify_insert AFTER INSERT ON items
            FOR EACH STATEMENT EXECUTE FUNCTION stacql_notify_items();
        CREATE TRIGGER items_notify_update AFTER UPDATE ON items
            FOR EACH STATEMENT EXECUTE FUNCTION stacql_notify_items();

        CREATE FUNCTION stacql_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('stacql_jobs', NEW.id::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
            FOR EACH ROW EXECUTE FUNCTION stacql_notify_jobs();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER IF EXISTS jobs_notify ON jobs;
        DROP FUNCTION IF EXISTS stacql_notify_jobs();
        DROP TRIGGER IF EXISTS items_notify_update ON items;
        DROP TRIGGER IF EXISTS items_notify_insert ON items;
        DROP FUNCTION IF EXISTS stacql_notify_items();
        """
    )
