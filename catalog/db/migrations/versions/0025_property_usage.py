"""How often searches filter and sort by each item property (``stacql db property-usage``).

Property indexes follow what operators declare (``stacql db index-property``, migration
0011). Which properties deserve one is what searches show: each API process counts the
properties its searches filter and sort by (``catalog.search.usage``) and adds its counts
to this table now and then, one row per property and searched collection (``*``: a
search over every collection).

Revision ID: 0025_property_usage
Revises: 0024_merge_template_assets
"""

from alembic import op

revision = "0025_property_usage"
down_revision = "0024_merge_template_assets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE property_usage (
            property text NOT NULL,
            collection_id text NOT NULL,
            filters bigint NOT NULL DEFAULT 0,
            sorts bigint NOT NULL DEFAULT 0,
            last_used timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (property, collection_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE property_usage")
