"""The GIN index of item properties leaves out their timestamps.

Equality on a property is searched by containment (``properties @> '{"k": v}'``) on a
GIN index. Timestamps (``datetime``, ``start_datetime``, ``end_datetime``, ``created``,
``updated``) are compared as times, never by containment, and nearly every item has
values of its own for them: they made a third of the index's entries, and the costliest
to insert, for no search. The index now holds the properties without them; searches
use the same expression (``catalog.db.models.indexed_properties``).

Revision ID: 0006_properties_index
Revises: 0005_search_time_indexes
"""

from alembic import op

revision = "0006_properties_index"
down_revision = "0005_search_time_indexes"
branch_labels = None
depends_on = None

_TIMESTAMPS = "'{datetime,start_datetime,end_datetime,created,updated}'::text[]"


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS items_properties_gin")
    op.execute(
        "CREATE INDEX items_properties_gin ON items "
        f"USING gin ((properties - {_TIMESTAMPS}) jsonb_path_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS items_properties_gin")
    op.execute(
        "CREATE INDEX items_properties_gin ON items USING gin (properties jsonb_path_ops)"
    )
