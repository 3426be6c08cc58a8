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

-- Internal: a change of chronicle.projections reaches every backend's list of
-- projections (src/projections/observer.cpp).  On one server define and drop
-- send it themselves; on a Citus cluster this trigger fires on each node's
-- placement of the reference table, in that node's part of the transaction.
-- Row triggers, as on chronicle.reducers.
CREATE OR REPLACE FUNCTION chronicle._projections_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_projections_changed';
COMMENT ON FUNCTION chronicle._projections_changed() IS
    'Internal trigger: every backend reloads its list of projections.';
CREATE OR REPLACE TRIGGER projections_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.projections
    FOR EACH ROW EXECUTE FUNCTION chronicle._projections_changed();
CREATE OR REPLACE TRIGGER projections_truncated AFTER TRUNCATE ON chronicle.projections
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._projections_changed();
