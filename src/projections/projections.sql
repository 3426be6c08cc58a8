-- chronicle projections: inline read models kept current by every append
-- (SPEC section 6, first half).

CREATE TABLE chronicle.projections (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    reducer    text        NOT NULL,
    category   text,
    table_name regclass    NOT NULL,
    columns    jsonb       NOT NULL,
    defined_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.projections IS
    'Inline projections: the reducer, the category it covered when defined (NULL: every stream), the table and its columns ([{name, type, path}]); written only by define_projection and drop_projection.';
-- User data: pg_dump keeps the definitions (table_name is dumped as its name).
SELECT pg_catalog.pg_extension_config_dump('chronicle.projections', '');
GRANT SELECT ON chronicle.projections TO chronicle_reader;

-- No SET search_path on these three: an unqualified table_name and the
-- column types resolve in the caller's search_path, as a CREATE TABLE would;
-- the C code qualifies everything else it runs.
CREATE FUNCTION chronicle.define_projection(name text, reducer text, table_name text, columns jsonb)
    RETURNS regclass
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_define_projection';
COMMENT ON FUNCTION chronicle.define_projection(text, text, text, jsonb) IS
    'Create table_name (stream_id, version and the given columns, owned by the caller), fill it from the log and keep it current inside every append to the reducer''s category.';
GRANT EXECUTE ON FUNCTION chronicle.define_projection(text, text, text, jsonb) TO chronicle_writer;

CREATE FUNCTION chronicle.rebuild_projection(name text) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_rebuild_projection';
COMMENT ON FUNCTION chronicle.rebuild_projection(text) IS
    'Replace a projection''s rows from the log in one pass (fold per stream), in one transaction; returns the rows written. For the table''s owner.';
GRANT EXECUTE ON FUNCTION chronicle.rebuild_projection(text) TO chronicle_writer;

CREATE FUNCTION chronicle.drop_projection(name text, drop_table boolean DEFAULT true) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_drop_projection';
COMMENT ON FUNCTION chronicle.drop_projection(text, boolean) IS
    'Stop keeping a projection; drop_table (default) also drops its table. For the table''s owner.';
GRANT EXECUTE ON FUNCTION chronicle.drop_projection(text, boolean) TO chronicle_writer;
