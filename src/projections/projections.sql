-- chronicle projections: define, rebuild, drop (data objects: tables.sql).

-- No SET search_path on these three: an unqualified table_name and the
-- column types resolve in the caller's search_path, as a CREATE TABLE would;
-- the C code qualifies everything else it runs.
CREATE OR REPLACE FUNCTION chronicle.define_projection(name text, reducer text, table_name text, columns jsonb)
    RETURNS regclass
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_define_projection';
COMMENT ON FUNCTION chronicle.define_projection(text, text, text, jsonb) IS
    'Create table_name (stream_id, version and the given columns, owned by the caller), fill it from the log and keep it current inside every append to the reducer''s category.';

CREATE OR REPLACE FUNCTION chronicle.rebuild_projection(name text) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_rebuild_projection';
COMMENT ON FUNCTION chronicle.rebuild_projection(text) IS
    'Replace a projection''s rows from the log in one pass (fold per stream), in one transaction; returns the rows written. For the table''s owner.';

CREATE OR REPLACE FUNCTION chronicle.drop_projection(name text, drop_table boolean DEFAULT true) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_drop_projection';
COMMENT ON FUNCTION chronicle.drop_projection(text, boolean) IS
    'Stop keeping a projection; drop_table (default) also drops its table. For the table''s owner.';
