"""Smaller items: assets in their item's row, rows compressed, a shorter content hash.

* ``items.assets`` holds the STAC assets object as served and ``items.asset_order``
  the document order of its keys (the positions of the keys in JSONB's own order,
  e.g. ``1,0,3,2``; NULL when the orders agree). The ``assets`` table, one row and
  one primary key entry per asset (about 1,900 bytes per item of four assets, more than
  the item's own row), becomes a view over them, for readers of its columns
  (operators' queries, tests); the catalog reads ``items.assets`` itself.
* A row beyond PostgreSQL's TOAST threshold (about 2 kB) has its values compressed in
  place until it fits ``toast_tuple_target``: 128 bytes on every partition (set by
  ``stacql_adopt_item_partition`` on new ones), so every value that compresses is
  compressed, with lz4 (JSONB and geometry). Every column of variable length is
  ``STORAGE MAIN``: kept in the row (out of line only beyond a page), as an item is
  read whole.
* ``content_hash`` is the first 16 bytes of the SHA-256 as ``bytea`` (was 64 hex
  characters).

The upgrade rewrites every row (the hash's new type rewrites the table, which also
gives back the space of the rows the assets' update left): the first load of an item
afterwards rewrites it once more, its hash being taken over the new columns.

Revision ID: 0019_item_assets
Revises: 0018_item_partitions
"""

import importlib

from alembic import op

revision = "0019_item_assets"
down_revision = "0018_item_partitions"
branch_labels = None
depends_on = None

_COMPRESSED = ("properties", "links", "stac_extensions", "extra", "assets", "geometry")
# Every column of variable length.
_MAIN = (
    "collection_id", "id", "bbox", "properties", "links", "stac_version",
    "stac_extensions", "extra", "content_hash", "assets", "asset_order",
)
_TOAST_TARGET = 128

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



def _adopt_function(toast: str) -> str:
    """Migration 0018's ``stacql_adopt_item_partition``, replaced, ending with ``toast``
    (the statement that sets a new partition's toast_tuple_target, or nothing)."""
    functions = importlib.import_module(
        "catalog.db.migrations.versions.0018_item_partitions"
    )._FUNCTIONS
    start = functions.index("CREATE FUNCTION stacql_adopt_item_partition")
    body = functions[start:functions.index("END $$;", start)]
    return "CREATE OR REPLACE" + body[len("CREATE"):] + toast + "\nEND $$;"


def _each_partition(statement: str) -> None:
    """Run ``statement`` (a format() string, %s: the partition) on every partition."""
    op.execute(
        f"""
        DO $$
        DECLARE
            part regclass;
        BEGIN
            FOR part IN SELECT inhrelid::regclass FROM pg_inherits
                        WHERE inhparent = 'items'::regclass
            LOOP
                EXECUTE format('{statement}', part);
            END LOOP;
        END $$;
        """
    )


_VIEW = """
CREATE FUNCTION stacql_asset_keys(assets jsonb, asset_order text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN asset_order IS NULL THEN k.keys ELSE ARRAY(
        SELECT k.keys[o.i + 1]
        FROM unnest(string_to_array(asset_order, ',')::int[]) WITH ORDINALITY AS o(i, n)
        ORDER BY o.n
    ) END
    FROM (SELECT ARRAY(SELECT jsonb_object_keys(assets)) AS keys) k
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
                          ADD COLUMN asset_order text;
        """
    )
    for column in _COMPRESSED:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET COMPRESSION lz4")
    for column in _MAIN:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET STORAGE MAIN")
    toast = f"ALTER TABLE %s SET (toast_tuple_target = {_TOAST_TARGET})"
    op.execute(_adopt_function(f"    EXECUTE format('{toast}', part);"))
    _each_partition(toast)
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
            asset_order = (
                SELECT CASE WHEN bool_and(o.n = j.n) THEN NULL
                            ELSE string_agg((j.n - 1)::text, ',' ORDER BY o.n) END
                FROM unnest(d.keys) WITH ORDINALITY AS o(key, n)
                JOIN jsonb_object_keys(d.assets) WITH ORDINALITY AS j(key, n)
                    ON j.key = o.key
            )
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
    # Rewrites the table, compressed values as they are.
    op.execute(
        """
        ALTER TABLE items ALTER COLUMN content_hash TYPE bytea
            USING decode(left(content_hash, 32), 'hex');
        """
    )
    op.execute(_VIEW)
    _rebuild_deletions()


def _rebuild_deletions() -> None:
    """``saved_search_deletions`` made again as migration 0016 made it (``LIKE items``,
    then ``seq`` and ``deleted_at``), with the rows waiting in it and its sequence."""
    converted = _ITEM_COLUMNS_0018.replace(
        "content_hash", "decode(left(content_hash, 32), 'hex')"
    )
    op.execute(
        f"""
        ALTER TABLE saved_search_deletions RENAME TO saved_search_deletions_0018;
        ALTER TABLE saved_search_deletions_0018
            RENAME CONSTRAINT saved_search_deletions_pkey TO saved_search_deletions_0018_pkey;
        ALTER SEQUENCE saved_search_deletions_seq_seq OWNED BY NONE;
        CREATE TABLE saved_search_deletions (LIKE items);
        ALTER TABLE saved_search_deletions
            ADD COLUMN seq bigint NOT NULL DEFAULT nextval('saved_search_deletions_seq_seq')
                PRIMARY KEY,
            ADD COLUMN deleted_at timestamptz NOT NULL DEFAULT clock_timestamp();
        ALTER SEQUENCE saved_search_deletions_seq_seq OWNED BY saved_search_deletions.seq;
        INSERT INTO saved_search_deletions ({_ITEM_COLUMNS_0018}, seq, deleted_at)
        SELECT {converted}, seq, deleted_at FROM saved_search_deletions_0018;
        DROP TABLE saved_search_deletions_0018;
        """
    )
    op.execute(
        _DELETIONS_TRIGGER.format(columns=_ITEM_COLUMNS_0018 + ", assets, asset_order")
    )


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
        DROP FUNCTION stacql_asset_keys(jsonb, text);
        ALTER TABLE assets_0018 RENAME TO assets;
        ALTER TABLE assets RENAME CONSTRAINT assets_0018_pkey TO assets_pkey;
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
    op.execute(_adopt_function(""))
    for column in _COMPRESSED[:-2]:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET COMPRESSION default")
    op.execute("ALTER TABLE items ALTER COLUMN geometry SET COMPRESSION default")
    for column in _MAIN[:-2]:
        op.execute(f"ALTER TABLE items ALTER COLUMN {column} SET STORAGE EXTENDED")
    _each_partition("ALTER TABLE %s RESET (toast_tuple_target)")
    op.execute(
        """
        ALTER TABLE items ALTER COLUMN content_hash TYPE varchar(64)
            USING encode(content_hash, 'hex');
        ALTER TABLE saved_search_deletions ALTER COLUMN content_hash TYPE varchar(64)
            USING encode(content_hash, 'hex');
        """
    )
    op.execute(
        """
        ALTER TABLE saved_search_deletions DROP COLUMN assets, DROP COLUMN asset_order;
        ALTER TABLE items DROP COLUMN assets, DROP COLUMN asset_order;
        """
    )
