"""The primary key of ``items`` becomes (collection_id, id, datetime).

PostgreSQL lets a partitioned table have a unique index only when it holds every
partition column, down every level: a collection's partition split by time range
(RANGE on ``datetime``, README "Growing past one machine") cannot sit under a key of
(collection_id, id). So the key takes ``datetime`` too; a lookup by (collection_id, id)
reads the same index's prefix. That an id is still unique in its collection is the
writers' work (``catalog.ingest.items``: a stored item whose datetime changes is
updated in place, not written twice).

Online: each partition's new index is built CONCURRENTLY (writes go on); then, in one
short transaction holding ``items`` exclusively for catalog changes only (no row is
read), the old key is dropped, each partition's new index becomes its primary key
(``ADD PRIMARY KEY USING INDEX``: the columns are NOT NULL, nothing is scanned) and is
attached to the parent's new key. An interrupted upgrade is run again: invalid indexes
left by a failed build are dropped and built again, valid ones are kept.

The functions below make the sub-partitions of a collection split by time range
(``catalog.db.partitions.split_collection``): a split collection's partition is RANGE
partitioned on ``datetime`` (its comment says the interval: ``stacql split: year`` or
``month``), one table per interval that holds items (``<partition>_y2021``,
``<partition>_m202101``) and a DEFAULT one; writers make the tables of their batch's
intervals before writing (``stacql_ensure_item_subpartitions``).

Revision ID: 0021_item_key_datetime
Revises: 0020_item_templates
"""

from alembic import op
from sqlalchemy import text

revision = "0021_item_key_datetime"
down_revision = "0020_item_templates"
branch_labels = None
depends_on = None

# The partitions that are tables (not themselves partitioned), every level down.
_LEAVES = """
SELECT c.relname, pk.relname AS key_name
FROM pg_partition_tree('items') t
JOIN pg_class c ON c.oid = t.relid
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
LEFT JOIN pg_class pk ON pk.oid = i.indexrelid
WHERE t.isleaf
ORDER BY c.relname
"""


_FUNCTIONS = r"""
-- The sub-partition of a split collection's partition `parent` for the interval `unit`
-- starting at `starts`, made (rows of that interval the DEFAULT sub-partition holds
-- moved into it first, so the attach finds none left there). The caller holds `parent`
-- in SHARE UPDATE EXCLUSIVE mode: concurrent makers of one table wait for each other.
CREATE FUNCTION stacql_add_item_subpartition(parent text, unit text, starts timestamptz)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    ends timestamptz := starts + ('1 ' || unit)::interval;
    name text := parent || CASE unit
        WHEN 'year' THEN '_y' || to_char(starts AT TIME ZONE 'UTC', 'YYYY')
        ELSE '_m' || to_char(starts AT TIME ZONE 'UTC', 'YYYYMM') END;
    fallback text := parent || '_default';
    options text;
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN name;
    END IF;
    SELECT array_to_string(reloptions, ', ') INTO options FROM pg_class
    WHERE oid = to_regclass(quote_ident(fallback));
    EXECUTE format('CREATE TABLE %I (LIKE items INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING STORAGE INCLUDING COMPRESSION)%s', name,
                   CASE WHEN options IS NULL THEN '' ELSE ' WITH (' || options || ')' END);
    IF to_regclass(quote_ident(fallback)) IS NOT NULL THEN
        -- Straight into the tables, not through items: no trigger of items fires.
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE datetime >= %L AND datetime < %L '
                       'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                       fallback, starts, ends, name);
    END IF;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, name, starts, ends);
    RETURN name;
END $$;

-- Makes the sub-partitions of the months `months` ('YYYY-MM') of a collection when its
-- partition is split by time range; nothing otherwise.
CREATE FUNCTION stacql_ensure_item_subpartitions(collection text, months text[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    parent text := 'items_c_' || stacql_item_partition_suffix(collection);
    unit text;
    starts timestamptz;
    name text;
    locked boolean := false;
BEGIN
    SELECT substring(obj_description(c.oid, 'pg_class') FROM '^stacql split: (year|month)$')
    INTO unit FROM pg_class c WHERE c.relname = parent AND c.relkind = 'p';
    IF unit IS NULL THEN
        RETURN;
    END IF;
    FOR starts IN
        SELECT DISTINCT date_trunc(unit, (m || '-01 00:00:00+00')::timestamptz, 'UTC')
        FROM unnest(months) AS m ORDER BY 1
    LOOP
        name := parent || CASE unit
            WHEN 'year' THEN '_y' || to_char(starts AT TIME ZONE 'UTC', 'YYYY')
            ELSE '_m' || to_char(starts AT TIME ZONE 'UTC', 'YYYYMM') END;
        CONTINUE WHEN to_regclass(quote_ident(name)) IS NOT NULL;
        IF NOT locked THEN
            EXECUTE format('LOCK TABLE %I IN SHARE UPDATE EXCLUSIVE MODE', parent);
            locked := true;
        END IF;
        PERFORM stacql_add_item_subpartition(parent, unit, starts);
    END LOOP;
END $$;
"""


def _swap_keys(columns: str) -> None:
    """Make ``(columns)`` the key of ``items`` and of every partition, from the unique
    indexes ``<partition>_key_new`` built beforehand (``_build_indexes``)."""
    op.execute(
        f"""
        DO $$
        DECLARE
            leaf record;
            names text[] := '{{}}';
            keys text[] := '{{}}';
            i integer;
        BEGIN
            LOCK TABLE items IN ACCESS EXCLUSIVE MODE;
            FOR leaf IN {_LEAVES} LOOP
                names := names || leaf.relname::text;
                keys := keys || coalesce(leaf.key_name::text, 'items_pkey__' || leaf.relname);
            END LOOP;
            ALTER TABLE items DROP CONSTRAINT items_pkey;
            FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
                EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I',
                               names[i], keys[i], names[i] || '_key_new');
            END LOOP;
            ALTER TABLE ONLY items ADD CONSTRAINT items_pkey PRIMARY KEY ({columns});
            FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
                EXECUTE format('ALTER INDEX items_pkey ATTACH PARTITION %I', keys[i]);
            END LOOP;
        END $$;
        """
    )


def _build_indexes(columns: str) -> None:
    """A unique index on ``(columns)`` of every partition, built CONCURRENTLY."""
    with op.get_context().autocommit_block():
        bind = op.get_bind()
        for (leaf, _key) in bind.execute(text(_LEAVES)).all():
            # Names from the catalog, not from a caller.
            name = f"{leaf}_key_new"
            invalid = bind.execute(text(
                "SELECT NOT i.indisvalid FROM pg_index i "
                "WHERE i.indexrelid = to_regclass(:name)"
            ), {"name": f'"{name}"'}).scalar()
            if invalid:
                op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
            op.execute(
                f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{leaf}" '
                f"({columns})"
            )


def upgrade() -> None:
    _build_indexes("collection_id, id, datetime")
    _swap_keys("collection_id, id, datetime")
    op.execute(_FUNCTIONS)


def downgrade() -> None:
    split = op.get_bind().execute(text(
        "SELECT count(*) FROM pg_partition_tree('items') t JOIN pg_class c ON c.oid = t.relid "
        "WHERE c.relkind = 'p' AND t.level > 0"
    )).scalar()
    if split:
        # A split collection needs the datetime in the key: it cannot be undone here.
        raise RuntimeError(f"{split} collection(s) split by time range; cannot downgrade")
    op.execute(
        "DROP FUNCTION stacql_ensure_item_subpartitions(text, text[]);"
        "DROP FUNCTION stacql_add_item_subpartition(text, text, timestamptz);"
    )
    # Fails (unique violation) while an id is stored twice in a collection with two
    # datetimes, which the writers of this version never do.
    _build_indexes("collection_id, id")
    _swap_keys("collection_id, id")
