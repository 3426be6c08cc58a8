-- chronicle.projections gains owner: the role that defined the projection
-- and owned its new table.  On a Citus cluster table_name is the table's
-- name (text) and resolves only to a table of this role (a schema's owner
-- renaming schemas must not point a projection at another role's table);
-- everywhere, drop_projection of a projection whose table is gone is its
-- owner's.  0.1.0 recorded no owner: each existing projection's is its
-- table's owner, or the extension's owner when the table is gone.
ALTER TABLE chronicle.projections ADD COLUMN owner pg_catalog.regrole;
UPDATE chronicle.projections p
   SET owner = COALESCE((SELECT c.relowner FROM pg_catalog.pg_class c
                          WHERE c.oid OPERATOR(pg_catalog.=) p.table_name::pg_catalog.oid),
                        (SELECT e.extowner FROM pg_catalog.pg_extension e
                          WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle'))::pg_catalog.regrole;
ALTER TABLE chronicle.projections ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN chronicle.projections.owner IS
    'The role that defined the projection and owned its new table. On a Citus cluster, where table_name is the table''s name (text), the name resolves only to a table this role owns.';
