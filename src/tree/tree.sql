-- Nested sets on the user's own tables: functions and triggers (data objects: tables.sql).

CREATE OR REPLACE FUNCTION chronicle.tree_attach(tbl regclass, id_column name DEFAULT 'id',
                                      parent_column name DEFAULT 'parent_id',
                                      scope_column name DEFAULT NULL,
                                      order_column name DEFAULT NULL,
                                      on_delete text DEFAULT 'cascade',
                                      numbering text DEFAULT 'per_scope') RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_attach';
COMMENT ON FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text, text) IS
    'Make a table a nested set: adds and indexes lft, rgt, depth (and tree_root with numbering per_root), numbers the existing rows from the parent column and installs the triggers that keep the numbering under plain SQL.';

CREATE OR REPLACE FUNCTION chronicle.tree_detach(tbl regclass) RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_detach';
COMMENT ON FUNCTION chronicle.tree_detach(regclass) IS
    'Remove the tree triggers and the attachment of a table; its columns, indexes and rows stay.';

CREATE OR REPLACE FUNCTION chronicle.tree_insert(tbl regclass, node jsonb, target anyelement DEFAULT NULL::integer,
                                      placement text DEFAULT 'last_child') RETURNS jsonb
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_insert';
COMMENT ON FUNCTION chronicle.tree_insert(regclass, jsonb, anyelement, text) IS
    'Insert a row given as a JSON object at a placement relative to a target node (first_child, last_child, before, after); returns the stored row.';

-- in_scope (of any type, taken as the scope column's): the scope the node is
-- looked up in.  Needed where ids are unique only within their scope (a key
-- on (scope, id)) and an id is in several, and on a table distributed by
-- Citus (the function then works on the scope's shard, on the node holding it).
CREATE OR REPLACE FUNCTION chronicle.tree_move(tbl regclass, node anyelement, target anyelement,
                                    placement text DEFAULT 'last_child', in_scope "any" DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_move';
COMMENT ON FUNCTION chronicle.tree_move(regclass, anyelement, anyelement, text, "any") IS
    'Move a node with its subtree relative to a target in its scope (first_child, last_child, before, after; NULL target: last root) in one bounded update.';

CREATE OR REPLACE FUNCTION chronicle.tree_delete(tbl regclass, node anyelement, mode text DEFAULT 'cascade',
                                      in_scope "any" DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_delete';
COMMENT ON FUNCTION chronicle.tree_delete(regclass, anyelement, text, "any") IS
    'Delete a node: cascade (with its subtree), promote (children take its place) or restrict (only a leaf); returns the rows deleted.';

CREATE OR REPLACE FUNCTION chronicle.tree_subtree(rows anyelement, node anycompatible, max_depth int DEFAULT NULL,
                                       in_scope "any" DEFAULT NULL)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_subtree';
COMMENT ON FUNCTION chronicle.tree_subtree(anyelement, anycompatible, int, "any") IS
    'The node and its descendants (up to max_depth levels below it), in lft order, as rows of the table: tree_subtree(NULL::tbl, id).';

CREATE OR REPLACE FUNCTION chronicle.tree_ancestors(rows anyelement, node anycompatible, in_scope "any" DEFAULT NULL)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_ancestors';
COMMENT ON FUNCTION chronicle.tree_ancestors(anyelement, anycompatible, "any") IS
    'The ancestors of a node, root first, without the node: tree_ancestors(NULL::tbl, id).';

CREATE OR REPLACE FUNCTION chronicle.tree_children(rows anyelement, node anycompatible, in_scope "any" DEFAULT NULL)
    RETURNS SETOF anyelement
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_children';
COMMENT ON FUNCTION chronicle.tree_children(anyelement, anycompatible, "any") IS
    'The children of a node in sibling order: tree_children(NULL::tbl, id).';

CREATE OR REPLACE FUNCTION chronicle.tree_validate(tbl regclass, in_scope "any" DEFAULT NULL)
    RETURNS TABLE(scope text, node text, problem text)
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chronicle_tree_validate';
COMMENT ON FUNCTION chronicle.tree_validate(regclass, "any") IS
    'One row per numbering problem (gap, overlap, lft >= rgt, parent/range disagreement, wrong depth) of every scope, or of in_scope; no rows means valid.';

CREATE OR REPLACE FUNCTION chronicle.tree_rebuild(tbl regclass) RETURNS bigint
    LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'chronicle_tree_rebuild';
COMMENT ON FUNCTION chronicle.tree_rebuild(regclass) IS
    'Renumber every tree of the table from its parent column, keeping the siblings'' current order where the numbering gives one; returns the rows whose numbers changed.';

-- The triggers tree_attach installs (see src/tree/triggers.cpp).
CREATE OR REPLACE FUNCTION chronicle._tree_lock_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_lock_trigger';
COMMENT ON FUNCTION chronicle._tree_lock_trigger() IS
    'Internal: BEFORE STATEMENT trigger of tree tables; takes the tree lock before any row is touched.';
CREATE OR REPLACE FUNCTION chronicle._tree_guard_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_guard_trigger';
COMMENT ON FUNCTION chronicle._tree_guard_trigger() IS
    'Internal: rejects direct writes to lft, rgt and depth of tree tables (TR005).';
-- The guard's WHEN clause asks this first; it is evaluated as the user who
-- runs the UPDATE, so PUBLIC may execute it (it only reports whether this
-- session is inside chronicle's own renumbering, like the read-only setting
-- chronicle.tree_maintenance).  Granted in src/privileges.sql.
CREATE OR REPLACE FUNCTION chronicle._tree_maintaining() RETURNS boolean
    LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'chronicle_tree_maintaining';
COMMENT ON FUNCTION chronicle._tree_maintaining() IS
    'Internal: true while chronicle renumbers a tree table in this session (the guard trigger then stands aside).';
CREATE OR REPLACE FUNCTION chronicle._tree_insert_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_insert_trigger';
COMMENT ON FUNCTION chronicle._tree_insert_trigger() IS
    'Internal: numbers the rows an INSERT or COPY statement added to a tree table.';
CREATE OR REPLACE FUNCTION chronicle._tree_moved_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_moved_trigger';
COMMENT ON FUNCTION chronicle._tree_moved_trigger() IS
    'Internal: remembers rows whose parent or scope an UPDATE changed.';
CREATE OR REPLACE FUNCTION chronicle._tree_update_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_update_trigger';
COMMENT ON FUNCTION chronicle._tree_update_trigger() IS
    'Internal: moves the subtrees an UPDATE statement re-parented.';
CREATE OR REPLACE FUNCTION chronicle._tree_delete_trigger() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chronicle_tree_delete_trigger';
COMMENT ON FUNCTION chronicle._tree_delete_trigger() IS
    'Internal: applies the on_delete mode and closes the numbering after a DELETE statement.';

-- A dropped table leaves no attachment behind (its oid could be reused).
CREATE OR REPLACE FUNCTION chronicle._tree_forget_dropped() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM chronicle._tree_tables t
     WHERE t.tbl OPERATOR(pg_catalog.=) ANY (
           SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND d.objsubid OPERATOR(pg_catalog.=) 0);
END $$;
COMMENT ON FUNCTION chronicle._tree_forget_dropped() IS
    'Internal: event trigger removing the attachment of dropped tree tables.';
-- An event trigger has no CREATE OR REPLACE; created once, by the install
-- script or by the upgrade that introduced it.
DO $event_trigger$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger
                    WHERE evtname OPERATOR(pg_catalog.=) 'chronicle_tree_forget_dropped') THEN
        CREATE EVENT TRIGGER chronicle_tree_forget_dropped ON sql_drop
            EXECUTE FUNCTION chronicle._tree_forget_dropped();
    END IF;
END
$event_trigger$;
