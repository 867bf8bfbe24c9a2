"""Items are partitioned by collection (PostgreSQL declarative LIST partitions).

A search scoped to collections reads only their partitions (partition pruning, at plan
time for literal ids and at execution time for bound ones), each partition's indexes are
the size of its collection, and a collection's items are one table an operator can
vacuum, analyze or move on its own.

The upgrade is online: no row is copied. The existing table becomes the DEFAULT
partition of a new partitioned ``items`` (its indexes attached to the new parent's
indexes, so none is rebuilt, its triggers moved to the parent, where statement triggers
fire for every partition); an empty one (a catalog with no items yet) is dropped.
Collections created afterwards get a partition of their own unless the default partition
holds rows: attaching a partition then would scan it under an exclusive lock, so new
collections stay in it until ``stacql db partitions move`` moves every collection out
(and drops it). The functions below do the work on the database side, so the
ingest service (``catalog.db.partitions``) makes a partition with one statement.

Partition and index names derive from a digest of the collection id
(``items_c_<16 hex>``; an index ``<parent index>__<16 hex>``), as ids may be any text.

Revision ID: 0018_item_partitions
Revises: 0017_items_space_time_gist
"""

from alembic import op

revision = "0018_item_partitions"
down_revision = "0017_items_space_time_gist"
branch_labels = None
depends_on = None

_FUNCTIONS = r"""
CREATE FUNCTION stacql_item_partition_suffix(collection_id text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT left(md5(collection_id), 16) $$;

-- Gives the indexes of a partition the names of their parents' plus the suffix, and
-- the partition the parent's extended statistics: the planner reads a partition's own
-- statistics when it scans it.
CREATE FUNCTION stacql_adopt_item_partition(part regclass, suffix text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    idx record;
    st record;
BEGIN
    FOR idx IN
        SELECT child.relname AS child_name, parent.relname AS parent_name
        FROM pg_index i
        JOIN pg_class child ON child.oid = i.indexrelid
        JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
        JOIN pg_class parent ON parent.oid = inh.inhparent
        WHERE i.indrelid = part
    LOOP
        IF idx.child_name <> idx.parent_name || '__' || suffix THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', idx.child_name,
                           idx.parent_name || '__' || suffix);
        END IF;
    END LOOP;
    FOR st IN
        SELECT s.stxname, pg_get_statisticsobjdef_columns(s.oid) AS columns
        FROM pg_statistic_ext s WHERE s.stxrelid = 'items'::regclass
    LOOP
        IF to_regclass(part::text) IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM pg_statistic_ext WHERE stxname = st.stxname || '__' || suffix
        ) THEN
            EXECUTE format('CREATE STATISTICS %I ON (%s) FROM %s',
                           st.stxname || '__' || suffix, st.columns, part);
        END IF;
    END LOOP;
END $$;

-- The table that holds a collection's items: its partition, else the default one.
CREATE FUNCTION stacql_item_partition_of(collection text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT c.relname::text FROM pg_inherits inh JOIN pg_class c ON c.oid = inh.inhrelid
         WHERE inh.inhparent = 'items'::regclass
         AND c.relname = 'items_c_' || stacql_item_partition_suffix(collection)),
        'items_default')
$$;

-- The partition holding a collection's items, made here when missing. While a default
-- partition holds rows (a migrated catalog), attaching would scan it under an exclusive
-- lock, so a new collection's items go there until `stacql db partitions move`; an empty
-- default partition is locked only briefly (lock_timeout), and a collection that cannot
-- have that lock waits in the default partition too.
CREATE FUNCTION stacql_ensure_item_partition(collection text) RETURNS regclass
LANGUAGE plpgsql AS $$
DECLARE
    suffix text := stacql_item_partition_suffix(collection);
    name text := 'items_c_' || suffix;
    found regclass;
    fallback regclass := to_regclass('items_default');
    previous_timeout text := current_setting('lock_timeout');
    default_has_rows boolean;
BEGIN
    LOCK TABLE items IN SHARE UPDATE EXCLUSIVE MODE;
    SELECT c.oid::regclass INTO found FROM pg_inherits inh
    JOIN pg_class c ON c.oid = inh.inhrelid
    WHERE inh.inhparent = 'items'::regclass AND c.relname = name;
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    IF fallback IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM items_default)' INTO default_has_rows;
        IF default_has_rows THEN
            RETURN fallback;
        END IF;
    END IF;
    BEGIN
        IF fallback IS NOT NULL THEN
            PERFORM set_config('lock_timeout', '2s', true);
        END IF;
        IF to_regclass(name) IS NOT NULL THEN
            EXECUTE format('DROP TABLE %I', name);
        END IF;
        EXECUTE format('CREATE TABLE %I (LIKE items INCLUDING DEFAULTS '
                       'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', name);
        EXECUTE format('ALTER TABLE items ATTACH PARTITION %I FOR VALUES IN (%L)',
                       name, collection);
        PERFORM set_config('lock_timeout', previous_timeout, true);
    EXCEPTION WHEN lock_not_available THEN
        PERFORM set_config('lock_timeout', previous_timeout, true);
        RETURN fallback;
    END;
    PERFORM stacql_adopt_item_partition(name::regclass, suffix);
    RETURN name::regclass;
END $$;
"""


def upgrade() -> None:
    op.execute(
        r"""
        DO $$
        DECLARE
            idx record;
            trg record;
            st record;
        BEGIN
            ALTER TABLE items RENAME TO items_default;
            CREATE TABLE items (LIKE items_default INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                INCLUDING STORAGE INCLUDING COMPRESSION)
                PARTITION BY LIST (collection_id);

            FOR idx IN
                SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def,
                       i.indisprimary AS primary_key
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE i.indrelid = 'items_default'::regclass
            LOOP
                IF idx.primary_key THEN
                    EXECUTE format('ALTER TABLE items_default RENAME CONSTRAINT %I TO %I',
                                   idx.name, idx.name || '__default');
                    EXECUTE format('ALTER TABLE ONLY items ADD CONSTRAINT %I PRIMARY KEY '
                                   '(collection_id, id)', idx.name);
                ELSE
                    EXECUTE format('ALTER INDEX %I RENAME TO %I', idx.name,
                                   idx.name || '__default');
                    EXECUTE regexp_replace(idx.def, ' ON public\.items_default ',
                                           ' ON ONLY public.items ');
                END IF;
            END LOOP;

            FOR trg IN
                SELECT t.tgname AS name, pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
                WHERE t.tgrelid = 'items_default'::regclass AND NOT t.tgisinternal
            LOOP
                EXECUTE format('DROP TRIGGER %I ON items_default', trg.name);
                EXECUTE regexp_replace(trg.def, ' ON public\.items_default ',
                                       ' ON public.items ');
            END LOOP;

            FOR st IN
                SELECT s.stxname AS name, pg_get_statisticsobjdef_columns(s.oid) AS columns
                FROM pg_statistic_ext s WHERE s.stxrelid = 'items_default'::regclass
            LOOP
                EXECUTE format('ALTER STATISTICS %I RENAME TO %I', st.name,
                               st.name || '__default');
                EXECUTE format('CREATE STATISTICS %I ON (%s) FROM items', st.name,
                               st.columns);
            END LOOP;

            -- Attaching adopts the default partition's indexes that match the parent's
            -- (same definitions): none is built again.
            ALTER TABLE items ATTACH PARTITION items_default DEFAULT;
            -- A catalog with no items yet needs no default partition: every collection
            -- gets its own, and attaching one then locks no other partition.
            IF NOT EXISTS (SELECT 1 FROM items_default) THEN
                ALTER TABLE items DETACH PARTITION items_default;
                DROP TABLE items_default;
            END IF;
        END $$;
        """
    )
    op.execute(_FUNCTIONS)


def downgrade() -> None:
    # Back to one table holding every partition's rows, with the parent's indexes,
    # triggers and statistics.
    op.execute(
        r"""
        DO $$
        DECLARE
            index_defs text[];
            trigger_defs text[];
            stats record;
            stats_defs text[] := '{}';
            def text;
        BEGIN
            SELECT array_agg(regexp_replace(pg_get_indexdef(i.indexrelid),
                                            ' ON ONLY public\.items ', ' ON public.items '))
            INTO index_defs FROM pg_index i
            WHERE i.indrelid = 'items'::regclass AND NOT i.indisprimary;
            SELECT array_agg(pg_get_triggerdef(t.oid)) INTO trigger_defs FROM pg_trigger t
            WHERE t.tgrelid = 'items'::regclass AND NOT t.tgisinternal;
            FOR stats IN
                SELECT s.stxname AS name, pg_get_statisticsobjdef_columns(s.oid) AS columns
                FROM pg_statistic_ext s WHERE s.stxrelid = 'items'::regclass
            LOOP
                stats_defs := stats_defs || format('CREATE STATISTICS %I ON (%s) FROM items',
                                                   stats.name, stats.columns);
            END LOOP;

            CREATE TABLE items_flat (LIKE items INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                     INCLUDING STORAGE INCLUDING COMPRESSION);
            INSERT INTO items_flat SELECT * FROM items;
            DROP TABLE items;
            ALTER TABLE items_flat RENAME TO items;
            ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY (collection_id, id);
            FOREACH def IN ARRAY coalesce(index_defs, '{}') || coalesce(trigger_defs, '{}')
                                 || stats_defs
            LOOP
                EXECUTE def;
            END LOOP;
        END $$;
        DROP FUNCTION stacql_ensure_item_partition(text);
        DROP FUNCTION stacql_item_partition_of(text);
        DROP FUNCTION stacql_adopt_item_partition(regclass, text);
        DROP FUNCTION stacql_item_partition_suffix(text);
        """
    )
