"""Initial schema: postgis, collections, items, assets, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(
        """
        CREATE TABLE collections (
            id text PRIMARY KEY,
            title text,
            description text NOT NULL,
            license text NOT NULL,
            keywords text[] NOT NULL DEFAULT '{}',
            providers jsonb NOT NULL DEFAULT '[]',
            summaries jsonb NOT NULL DEFAULT '{}',
            item_assets jsonb NOT NULL DEFAULT '{}',
            links jsonb NOT NULL DEFAULT '[]',
            declared_extent jsonb NOT NULL,
            spatial_extent geometry(Geometry, 4326),
            temporal_start timestamptz,
            temporal_end timestamptz,
            queryables jsonb NOT NULL DEFAULT '{}',
            content jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE items (
            collection_id text NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
            id text NOT NULL,
            geometry geometry(Geometry, 4326),
            bbox double precision[],
            datetime timestamptz NOT NULL,
            start_datetime timestamptz NOT NULL,
            end_datetime timestamptz NOT NULL,
            properties jsonb NOT NULL,
            links jsonb NOT NULL DEFAULT '[]',
            stac_version varchar(32) NOT NULL,
            stac_extensions jsonb NOT NULL DEFAULT '[]',
            extra jsonb NOT NULL DEFAULT '{}',
            content_hash varchar(64) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (collection_id, id),
            CHECK (start_datetime <= end_datetime)
        )
        """
    )
    op.execute("CREATE INDEX items_geometry_gist ON items USING gist (geometry)")
    op.execute("CREATE INDEX items_datetime_idx ON items (datetime, collection_id, id)")
    op.execute("CREATE INDEX items_start_datetime_idx ON items (start_datetime)")
    op.execute("CREATE INDEX items_end_datetime_idx ON items (end_datetime)")
    op.execute("CREATE INDEX items_id_idx ON items (id)")
    op.execute(
        "CREATE INDEX items_properties_gin ON items USING gin (properties jsonb_path_ops)"
    )
    op.execute(
        """
        CREATE TABLE assets (
            collection_id text NOT NULL,
            item_id text NOT NULL,
            key text NOT NULL,
            position integer NOT NULL,
            href text NOT NULL,
            media_type text,
            title text,
            description text,
            roles text[] NOT NULL DEFAULT '{}',
            fields jsonb NOT NULL DEFAULT '{}',
            PRIMARY KEY (collection_id, item_id, key),
            FOREIGN KEY (collection_id, item_id)
                REFERENCES items (collection_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX assets_roles_gin ON assets USING gin (roles)")
    op.execute("CREATE INDEX assets_media_type_idx ON assets (media_type)")
    op.execute(
        """
        CREATE TABLE jobs (
            id uuid PRIMARY KEY,
            kind text NOT NULL,
            status text NOT NULL DEFAULT 'queued',
            progress double precision NOT NULL DEFAULT 0,
            message text,
            error text,
            params jsonb NOT NULL DEFAULT '{}',
            result jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX jobs_status_idx ON jobs (status, created_at)")
    # CQL2 compares timestamps held in arbitrary properties; a value that is not a
    # timestamp must compare as "no match", never abort the whole search.
    op.execute(
        """
        CREATE FUNCTION stacql_try_timestamptz(value text) RETURNS timestamptz
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        BEGIN
            RETURN value::timestamptz;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END;
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS stacql_try_timestamptz(text)")
    op.execute("DROP TABLE IF EXISTS jobs")
    op.execute("DROP TABLE IF EXISTS assets")
    op.execute("DROP TABLE IF EXISTS items")
    op.execute("DROP TABLE IF EXISTS collections")
