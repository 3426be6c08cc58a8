-- Nested sets: per-root numbering (issue 15).
ALTER TABLE chronicle._tree_tables
    ADD COLUMN numbering text NOT NULL DEFAULT 'per_scope' CHECK (numbering IN ('per_scope', 'per_root'));
-- tree_attach gained the numbering parameter.
DROP FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text);
COMMENT ON TABLE chronicle._tree_tables IS
    'Tables attached as nested-set trees by chronicle.tree_attach(): their id, parent, scope and order columns, delete mode and numbering (per_scope: one sequence per scope; per_root: each root tree numbered from 1, its rows carrying the root id in tree_root).';
-- Trees by scope (issue 16): ids unique within their scope (a key on
-- (scope, id), as on a table Citus distributes by its scope).
ALTER TABLE chronicle._tree_tables
    ADD COLUMN ids_unique_in text NOT NULL DEFAULT 'table' CHECK (ids_unique_in IN ('table', 'scope'));
COMMENT ON TABLE chronicle._tree_tables IS
    'Tables attached as nested-set trees by chronicle.tree_attach(): their id, parent, scope and order columns, delete mode, numbering (per_scope: one sequence per scope; per_root: each root tree numbered from 1, its rows carrying the root id in tree_root) and where ids are unique (table; scope: a key on (scope, id), nodes named by scope and id).';
-- The functions that name a node gained in_scope; tree_validate too.
DROP FUNCTION chronicle.tree_move(regclass, anyelement, anyelement, text);
DROP FUNCTION chronicle.tree_delete(regclass, anyelement, text);
DROP FUNCTION chronicle.tree_subtree(anyelement, anycompatible, int);
DROP FUNCTION chronicle.tree_ancestors(anyelement, anycompatible);
DROP FUNCTION chronicle.tree_children(anyelement, anycompatible);
DROP FUNCTION chronicle.tree_validate(regclass);
