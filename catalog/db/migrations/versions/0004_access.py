"""Access control: API keys (only a salted hash of each token) and private collections.

Revision ID: 0004_access
Revises: 0003_change_notify
"""

from alembic import op

revision = "0004_access"
down_revision = "0003_change_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id uuid PRIMARY KEY,
            name text NOT NULL,
            scope text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
            collection_id text REFERENCES collections (id) ON DELETE CASCADE,
            lookup text NOT NULL UNIQUE,
            salt bytea NOT NULL,
            digest bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        );
        ALTER TABLE collections ADD COLUMN private boolean NOT NULL DEFAULT false;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE collections DROP COLUMN private;
        DROP TABLE api_keys;
        """
    )
