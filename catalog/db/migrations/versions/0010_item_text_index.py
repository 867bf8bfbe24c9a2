"""Item free text (``q``) is answered from a trigram index.

``q`` matches items whose title, description or keywords contain a term, ignoring case.
That was ``lower(concat_ws(' ', title, description, keywords)) LIKE '%term%'`` over every
item: no B-tree serves a pattern with a leading wildcard, so a search read the whole
table (6.9 s over 1.1 M items to find nothing). The searched text is now the result of
one immutable function, ``stacql_item_text(properties)``, and a pg_trgm GIN index holds
the trigrams of that same expression, which serves ``LIKE '%term%'`` for any term
(terms shorter than three characters read the whole index, still not the table).

The function yields NULL, not '', for an item with none of the three members: the index
is partial on ``IS NOT NULL`` (implied by the strict LIKE of every search), so items
without text (most of a large imagery catalog) cost no index entry at all.

The planner has no statistics of a partial index's expression over the rows outside it:
it took ``LIKE '%naip%'`` for a common match and walked the datetime index of the default
order, testing every item (1.1 s over 100,000 items with no text at all, instead of
0.5 ms from the index). Extended statistics on the expression (``items_text_stats``) tell
it how many items have text, so a term matching few items is looked up in the index.

Built CONCURRENTLY: writes to ``items`` go on while it is built.

Revision ID: 0010_item_text_index
Revises: 0009_asset_access
"""

from alembic import op

revision = "0010_item_text_index"
down_revision = "0009_asset_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # concat_ws is only STABLE (it may format any type); here every argument is text,
    # whose formatting never changes, so the function is truly immutable.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION stacql_item_text(properties jsonb) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT NULLIF(lower(concat_ws(' ', properties->>'title',
                properties->>'description', properties->>'keywords')), '')
        $$
        """
    )
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS items_text_stats "
        "ON (stacql_item_text(properties)) FROM items"
    )
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_text_trgm ON items "
            "USING gin (stacql_item_text(properties) gin_trgm_ops) "
            "WHERE stacql_item_text(properties) IS NOT NULL"
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS items_text_trgm")
    op.execute("DROP STATISTICS IF EXISTS items_text_stats")
    op.execute("DROP FUNCTION IF EXISTS stacql_item_text(jsonb)")
