"""Secrets the service's processes share (the key that signs asset URLs), and the searches
registered for mosaic tiles.

Every API process and replica must honour a URL another one signed, so the key lives in
the database rather than in each process; it is made by the first process that needs it.

Revision ID: 0009_asset_access
Revises: 0008_byte_order_keys
"""

from alembic import op

revision = "0009_asset_access"
down_revision = "0008_byte_order_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE service_secrets (
            name text PRIMARY KEY,
            value bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE mosaic_searches (
            id text PRIMARY KEY,
            search jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE mosaic_searches; DROP TABLE service_secrets;")
