"""Partial indexes for temporal searches ordered by datetime.

A search with a time window [S, T] matches items whose range [start, end] meets it.
Most matches have their nominal ``datetime`` inside [S, T], and ``catalog.search`` reads
those with a range scan of ``items_datetime_idx``. The others have a ``datetime`` after T
(so ``datetime > start_datetime``) or before S (so ``datetime < end_datetime``): only
items with a time range can be there, and these two partial indexes hold just those, so
the search finds them without walking every instant item outside the window.

Revision ID: 0005_search_time_indexes
Revises: 0004_access
"""

from alembic import op

revision = "0005_search_time_indexes"
down_revision = "0004_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX items_datetime_after_start_idx ON items (datetime, collection_id, id)"
        " WHERE datetime > start_datetime"
    )
    op.execute(
        "CREATE INDEX items_datetime_before_end_idx ON items (datetime, collection_id, id)"
        " WHERE datetime < end_datetime"
    )


def downgrade() -> None:
    op.execute("DROP INDEX items_datetime_before_end_idx")
    op.execute("DROP INDEX items_datetime_after_start_idx")
