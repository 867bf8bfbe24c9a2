"""Assets live in their item's row: ``items.assets`` (the STAC assets object as served)
and ``items.asset_order`` (the keys in document order, NULL when that is JSONB's own key
order); the ``assets`` table becomes a view over them.

One row and one primary key entry per asset cost about 1,900 bytes per item of four
assets, more than the item's own row; held as one JSONB value in the item's row they
cost what the value takes once compressed (lz4, set on every JSONB column of ``items``:
a row beyond PostgreSQL's TOAST threshold, about 2 kB, has its biggest values
compressed in place). The view keeps the old columns for readers of ``assets``
(operators' queries, tests); the catalog reads ``items.assets`` itself.

Rows are rewritten once by the upgrade: run ``VACUUM FULL items`` (or ``pg_repack``)
afterwards to give the space of the old rows back.

Revision ID: 0019_item_assets
Revises: 0018_item_partitions
"""

from alembic import op

revision = "0019_item_assets"
down_revision = "0018_item_partitions"
branch_labels = None
depends_on = None

_JSONB_COLUMNS = ("properties", "links", "stac_extensions", "extra", "assets")

# The item's columns, in ``items`` order; saved_search_deletions holds them before its
# own (seq, deleted_at), so the trigger names them.
_ITEM_COLUMNS_0018 = (
    "collection_id, id, geometry, bbox, datetime, start_datetime, end_datetime, "
    "properties, links, stac_version, stac_extensions, extra, content_hash, "
    "created_at, updated_at"
)

_DELETIONS_TRIGGER = """
CREATE OR REPLACE FUNCTION stacql_saved_search_deletions() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM saved_searches WHERE webhook_url IS NOT NULL) THEN
        -- seq and deleted_at take their defaults.
        INSERT INTO saved_search_deletions ({columns}) SELECT {columns} FROM deleted_items;
    END IF;
    RETURN NULL;
END $$;
"""

_VIEW = """
CREATE FUNCTION stacql_asset_keys(assets jsonb, asset_order text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(asset_order, ARRAY(SELECT jsonb_object_keys(assets)))
$$;

CREATE VIEW assets AS
SELECT i.collection_id, i.id AS item_id, k.key COLLATE "C" AS key,
       (k.n - 1)::integer AS position,
       i.assets -> k.key ->> 'href' AS href,
       i.assets -> k.key ->> 'type' AS media_type,
       i.assets -> k.key ->> 'title' AS title,
       i.assets -> k.key ->> 'description' AS description,
       ARRAY(SELECT jsonb_array_elements_text(coalesce(i.assets -> k.key -> 'roles', '[]')))
           AS roles,
       (i.assets -> k.key) - '{href,type,title,description,roles}'::text[] AS fields,
       i.assets -> k.key AS document
FROM items i
CROSS JOIN LATERAL unnest(stacql_asset_keys(i.assets, i.asset_order)) WITH ORDINALITY
    AS k(key, n);
"""


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE items ADD COLUMN assets jsonb NOT NULL DEFAULT '{}',
                          ADD COLUMN asset_order text[];
        ALTER TABLE saved_search_deletions ADD COLUMN assets jsonb,
                                           ADD COLUMN asset_order text[];
        """
    )
    for column in _JSONB_COLUMNS:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET COMPRESSION lz4")
    op.execute(
        _DELETIONS_TRIGGER.format(columns=_ITEM_COLUMNS_0018 + ", assets, asset_order")
    )
    # The document of each asset as the catalog served it (migration 0001's columns).
    # Every row is rewritten but no item changes: no notice, no saved-search change.
    op.execute(
        "ALTER TABLE items DISABLE TRIGGER items_notify_update, "
        "DISABLE TRIGGER items_saved_search_update"
    )
    op.execute(
        """
        WITH documents AS (
            SELECT collection_id, item_id,
                   jsonb_object_agg(key, jsonb_strip_nulls(jsonb_build_object(
                       'href', href, 'type', media_type, 'title', title,
                       'description', description))
                       || CASE WHEN cardinality(roles) > 0
                               THEN jsonb_build_object('roles', roles)
                               ELSE '{}'::jsonb END
                       || fields) AS assets,
                   array_agg(key::text ORDER BY position) AS keys
            FROM assets GROUP BY collection_id, item_id
        )
        UPDATE items i SET
            assets = d.assets,
            asset_order = CASE WHEN d.keys = ARRAY(SELECT jsonb_object_keys(d.assets))
                               THEN NULL ELSE d.keys END
        FROM documents d
        WHERE i.collection_id = d.collection_id AND i.id = d.item_id
        """
    )
    op.execute(
        "ALTER TABLE items ENABLE TRIGGER items_notify_update, "
        "ENABLE TRIGGER items_saved_search_update"
    )
    op.execute(
        """
        DROP TRIGGER IF EXISTS items_truncate_assets ON items;
        DROP FUNCTION IF EXISTS stacql_truncate_item_assets();
        DROP TRIGGER IF EXISTS items_delete_assets ON items;
        DROP FUNCTION IF EXISTS stacql_delete_item_assets();
        DROP TABLE assets;
        """
    )
    op.execute(_VIEW)


def downgrade() -> None:
    op.execute(
        """
        CREATE TABLE assets_0018 (
            collection_id text COLLATE "C" NOT NULL,
            item_id text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            position integer NOT NULL,
            href text NOT NULL,
            media_type text,
            title text,
            description text,
            roles text[] NOT NULL DEFAULT '{}',
            fields jsonb NOT NULL DEFAULT '{}',
            PRIMARY KEY (collection_id, item_id, key)
        );
        INSERT INTO assets_0018
        SELECT collection_id, item_id, key, position, href, media_type, title, description,
               roles, fields
        FROM assets;
        DROP VIEW assets;
        DROP FUNCTION stacql_asset_keys(jsonb, text[]);
        ALTER TABLE assets_0018 RENAME TO assets;
        ALTER TABLE assets RENAME CONSTRAINT assets_0018_pkey TO assets_pkey;
        ALTER INDEX assets_0018_pkey RENAME TO assets_pkey;
        CREATE INDEX assets_roles_gin ON assets USING gin (roles);
        """
    )
    # Migration 0002's triggers.
    op.execute(
        """
        CREATE FUNCTION stacql_delete_item_assets() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM assets a USING stacql_deleted_items d
            WHERE a.collection_id = d.collection_id AND a.item_id = d.id;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER items_delete_assets AFTER DELETE ON items
        REFERENCING OLD TABLE AS stacql_deleted_items
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_delete_item_assets();
        CREATE FUNCTION stacql_truncate_item_assets() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Not TRUNCATE: that fails when the same statement truncates assets too.
            DELETE FROM assets;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER items_truncate_assets AFTER TRUNCATE ON items
        FOR EACH STATEMENT EXECUTE FUNCTION stacql_truncate_item_assets();
        """
    )
    op.execute(_DELETIONS_TRIGGER.format(columns=_ITEM_COLUMNS_0018))
    for column in _JSONB_COLUMNS[:-1]:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET COMPRESSION default")
    op.execute(
        """
        ALTER TABLE saved_search_deletions DROP COLUMN assets, DROP COLUMN asset_order;
        ALTER TABLE items DROP COLUMN assets, DROP COLUMN asset_order;
        """
    )
