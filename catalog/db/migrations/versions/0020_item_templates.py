"""Item templates: what the items of a batch share is stored once, not in every row.

A bulk load's items repeat most of their assets (media type, title, roles, bands: all
but the href) and their ``stac_extensions``. ``item_templates`` holds such shared parts
once, keyed by a 64-bit digest of their JSON; an item row names its template in
``items.template_id`` and keeps only what differs from it:

* ``items.assets``: each asset without the members its template's asset of the same key
  has with the same value (the href always stays in the row);
* ``items.stac_extensions``: NULL when the template's list is the item's.

``stacql_item_assets(assets, template_id)`` and ``stacql_item_extensions(extensions,
template_id)`` give back what the item was given; the catalog serves items through them
and the ``assets`` view reads them. A template never changes once written (its key is
its content), so a row means the same forever. Rows written before this migration have
no template and are served as they are.

PostgreSQL compresses a row's values only when the row is longer than about 2 kB
(``TOAST_TUPLE_THRESHOLD``; ``toast_tuple_target``, 128 on every partition since 0019,
sets how far it then compresses, not when it starts). A whole bench item is longer and
was compressed to about 1,290 bytes; without its template's members it is about 1,370
and would be stored as it is. ``items.compress_pad`` is 2,048 blanks by default, so a
new row is always past the threshold: PostgreSQL compresses every value of the row (the
blanks to 27 bytes), and a templated item takes about 900 bytes.

Revision ID: 0020_item_templates
Revises: 0019_item_assets
"""

import importlib

from alembic import op

revision = "0020_item_templates"
down_revision = "0019_item_assets"
branch_labels = None
depends_on = None

_FUNCTIONS = """
CREATE FUNCTION stacql_item_assets(stored jsonb, template bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN template IS NULL THEN stored ELSE coalesce((
        SELECT jsonb_object_agg(a.key, coalesce(t.shared -> a.key, '{}'::jsonb) || a.value)
        FROM (SELECT body -> 'assets' AS shared FROM item_templates WHERE id = template) t,
             jsonb_each(stored) a
    ), stored) END
$$;

CREATE FUNCTION stacql_item_extensions(stored jsonb, template bigint)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        stored,
        (SELECT body -> 'stac_extensions' FROM item_templates WHERE id = template),
        '[]'::jsonb
    )
$$;
"""

_0019 = "catalog.db.migrations.versions.0019_item_assets"
_ITEM_COLUMNS_0019 = importlib.import_module(_0019)._ITEM_COLUMNS_0018 + ", assets, asset_order"


def _view(hydrated: bool) -> str:
    """Migration 0019's ``assets`` view; ``hydrated``: over the items' assets as given
    (their templates' members put back once per row)."""
    view = importlib.import_module(_0019)._VIEW
    view = view[view.index("CREATE VIEW assets"):]
    if not hydrated:
        return view
    return view.replace("i.assets", "h.assets").replace(
        "FROM items i\n",
        "FROM items i\n"
        "CROSS JOIN LATERAL (SELECT stacql_item_assets(i.assets, i.template_id) AS assets) h\n",
    )


def _deletions_trigger(columns: str) -> str:
    return importlib.import_module(_0019)._DELETIONS_TRIGGER.format(columns=columns)


def _rebuild_deletions(kept: str) -> None:
    """``saved_search_deletions`` made again with the columns of ``items`` as they are
    now, then ``seq`` and ``deleted_at`` (as migration 0016 made it), keeping the rows
    waiting in it (their columns ``kept``) and its sequence."""
    op.execute(
        f"""
        ALTER TABLE saved_search_deletions RENAME TO saved_search_deletions_old;
        ALTER TABLE saved_search_deletions_old
            RENAME CONSTRAINT saved_search_deletions_pkey TO saved_search_deletions_old_pkey;
        ALTER SEQUENCE saved_search_deletions_seq_seq OWNED BY NONE;
        CREATE TABLE saved_search_deletions (LIKE items);
        ALTER TABLE saved_search_deletions
            ADD COLUMN seq bigint NOT NULL DEFAULT nextval('saved_search_deletions_seq_seq')
                PRIMARY KEY,
            ADD COLUMN deleted_at timestamptz NOT NULL DEFAULT clock_timestamp();
        ALTER SEQUENCE saved_search_deletions_seq_seq OWNED BY saved_search_deletions.seq;
        INSERT INTO saved_search_deletions ({kept}, seq, deleted_at)
        SELECT {kept}, seq, deleted_at FROM saved_search_deletions_old;
        DROP TABLE saved_search_deletions_old;
        """
    )


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE item_templates (
            id bigint PRIMARY KEY,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        ALTER TABLE items ADD COLUMN template_id bigint,
                          ADD COLUMN compress_pad text DEFAULT repeat(' ', 2048),
                          ALTER COLUMN stac_extensions DROP NOT NULL;
        ALTER TABLE items ALTER COLUMN compress_pad SET STORAGE MAIN,
                          ALTER COLUMN compress_pad SET COMPRESSION lz4;
        """
    )
    op.execute(_FUNCTIONS)
    op.execute("DROP VIEW assets")
    op.execute(_view(hydrated=True))
    _rebuild_deletions(_ITEM_COLUMNS_0019)
    op.execute(_deletions_trigger(_ITEM_COLUMNS_0019 + ", template_id"))


def downgrade() -> None:
    # Every row as it was given, before the column that names its template goes. No
    # item changes: no notice, no saved-search change.
    op.execute(
        "ALTER TABLE items DISABLE TRIGGER items_notify_update, "
        "DISABLE TRIGGER items_saved_search_update"
    )
    op.execute(
        """
        UPDATE items SET assets = stacql_item_assets(assets, template_id),
                         stac_extensions = stacql_item_extensions(stac_extensions, template_id),
                         template_id = NULL
        WHERE template_id IS NOT NULL;
        UPDATE saved_search_deletions
        SET assets = stacql_item_assets(assets, template_id),
            stac_extensions = stacql_item_extensions(stac_extensions, template_id),
            template_id = NULL
        WHERE template_id IS NOT NULL;
        """
    )
    op.execute(
        "ALTER TABLE items ENABLE TRIGGER items_notify_update, "
        "ENABLE TRIGGER items_saved_search_update"
    )
    op.execute(_deletions_trigger(_ITEM_COLUMNS_0019))
    op.execute("DROP VIEW assets")
    op.execute(_view(hydrated=False))
    op.execute(
        """
        DROP FUNCTION stacql_item_assets(jsonb, bigint);
        DROP FUNCTION stacql_item_extensions(jsonb, bigint);
        ALTER TABLE items DROP COLUMN template_id, DROP COLUMN compress_pad,
                          ALTER COLUMN stac_extensions SET NOT NULL;
        DROP TABLE item_templates;
        """
    )
    _rebuild_deletions(_ITEM_COLUMNS_0019)
