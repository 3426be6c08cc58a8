-- Nested sets on the user's own tables (docs/reference/tree.md).

-- Which tables are attached, and how.  Written only by tree_attach/tree_detach
-- (as this table's owner); read by the tree functions and triggers.
CREATE TABLE chronicle._tree_tables (
    tbl           regclass    PRIMARY KEY,
    id_column     name        NOT NULL,
    parent_column name        NOT NULL,
    scope_column  name,
    order_column  name,
    on_delete     text        NOT NULL CHECK (on_delete IN ('cascade', 'promote', 'restrict')),
    attached_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    numbering     text        NOT NULL DEFAULT 'per_scope' CHECK (numbering IN ('per_scope', 'per_root')),
    ids_unique_in text        NOT NULL DEFAULT 'table' CHECK (ids_unique_in IN ('table', 'scope'))
);
COMMENT ON TABLE chronicle._tree_tables IS
    'Tables attached as nested-set trees by chronicle.tree_attach(): their id, parent, scope and order columns, delete mode, numbering (per_scope: one sequence per scope; per_root: each root tree numbered from 1, its rows carrying the root id in tree_root) and where ids are unique (table; scope: a key on (scope, id), nodes named by scope and id).';
SELECT pg_catalog.pg_extension_config_dump('chronicle._tree_tables', '');
