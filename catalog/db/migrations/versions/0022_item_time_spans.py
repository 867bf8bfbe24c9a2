"""Each collection records how far its items' time ranges reach from their ``datetime``.

An item meets a time window [S, T] when ``start_datetime <= T`` and ``end_datetime >= S``,
but searches walk the ``datetime`` index (and a collection split by time range is
partitioned on ``datetime``): the items whose ``datetime`` lies outside the window yet
whose range meets it were found by two more parts with no bound on ``datetime``, which
read every sub-partition on their side and planned all of them. With the longest reach
of a collection's ranges before its datetime (``item_time_lead``, the largest
``datetime - start_datetime``) and after it (``item_time_lag``, the largest
``end_datetime - datetime``), every match has ``S - lag <= datetime <= T + lead``: a
bounded range, nothing more for a collection of instants (both zero).

The values only grow: writers widen them with the collection's extent
(``catalog.ingest.extent``), and deleting items leaves them (a larger reach than the
items have is still a true bound). Backfilled here from the items with a time range
(read through the partial indexes of migration 0005, not a scan of every item), in two
statements so that a distributed catalog (Citus: ``collections`` a reference table)
runs them too.

Revision ID: 0022_item_time_spans
Revises: 0021_item_key_datetime
"""

from alembic import op
from sqlalchemy import text

revision = "0022_item_time_spans"
down_revision = "0021_item_key_datetime"
branch_labels = None
depends_on = None

_REACH = {
    "item_time_lead": "SELECT collection_id, max(datetime - start_datetime) FROM items "
                      "WHERE datetime > start_datetime GROUP BY collection_id",
    "item_time_lag": "SELECT collection_id, max(end_datetime - datetime) FROM items "
                     "WHERE datetime < end_datetime GROUP BY collection_id",
}


def upgrade() -> None:
    op.execute(
        "ALTER TABLE collections "
        "ADD COLUMN item_time_lead interval NOT NULL DEFAULT '0', "
        "ADD COLUMN item_time_lag interval NOT NULL DEFAULT '0'"
    )
    bind = op.get_bind()
    for column, reach in _REACH.items():
        for collection_id, span in bind.execute(text(reach)).all():
            bind.execute(
                text(f"UPDATE collections SET {column} = :span WHERE id = :id"),
                {"span": span, "id": collection_id},
            )


def downgrade() -> None:
    op.execute("ALTER TABLE collections DROP COLUMN item_time_lag, DROP COLUMN item_time_lead")
