"""A template's assets are merged into an item's by a function that reads no table.

``stacql_merge_assets(shared, stored)``: each asset of ``stored`` with the members of
the asset of the same key in ``shared`` (a template's ``assets``, migration 0020) put
back under it. It is what ``stacql_item_assets`` did after reading the template, now
without the read, so that a statement can fetch the template itself and hand it over.

Why: an item document merged its template's assets in a subquery correlated with the
item row with ``jsonb_each(items.assets)`` in its FROM. Citus refuses to plan such a
subquery in a statement fanned out over the shards ("correlated subqueries are not
supported when the FROM clause contains a set returning function"), so every search
page failed on a distributed catalog. A call of an immutable function that reads no
table is pushed down to the shards as it is; the template, a row of a reference table,
is fetched by a plain scalar subquery, which Citus plans.

PL/pgSQL, not SQL: a SQL function whose body has a FROM is not inlined and its body is
planned again in every statement that calls it; PL/pgSQL keeps the plan for the session.

``stacql_item_assets`` (the ``assets`` view) is defined with it, so the two ways of
serving an item's assets cannot drift apart.

Revision ID: 0024_merge_template_assets
Revises: 0023_item_time_bucket_gist
"""

import importlib

from alembic import op

revision = "0024_merge_template_assets"
down_revision = "0023_item_time_bucket_gist"
branch_labels = None
depends_on = None

_MERGE = """
CREATE FUNCTION stacql_merge_assets(shared jsonb, stored jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN coalesce((
        SELECT jsonb_object_agg(a.key, coalesce(shared -> a.key, '{}'::jsonb) || a.value)
        FROM jsonb_each(stored) a
    ), stored);
END
$$;

CREATE OR REPLACE FUNCTION stacql_item_assets(stored jsonb, template bigint)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN template IS NULL THEN stored ELSE stacql_merge_assets(
        (SELECT body -> 'assets' FROM item_templates WHERE id = template), stored
    ) END
$$;
"""


def upgrade() -> None:
    op.execute(_MERGE)


def downgrade() -> None:
    functions = importlib.import_module(
        "catalog.db.migrations.versions.0020_item_templates"
    )._FUNCTIONS
    item_assets = functions[: functions.index("CREATE FUNCTION stacql_item_extensions")]
    op.execute(item_assets.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute("DROP FUNCTION stacql_merge_assets(jsonb, jsonb)")
