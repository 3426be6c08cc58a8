-- Nested sets: per-root numbering (issue 15).
ALTER TABLE chronicle._tree_tables
    ADD COLUMN numbering text NOT NULL DEFAULT 'per_scope' CHECK (numbering IN ('per_scope', 'per_root'));
-- tree_attach gained the numbering parameter.
DROP FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text);
COMMENT ON TABLE chronicle._tree_tables IS
    'Tables attached as nested-set trees by chronicle.tree_attach(): their id, parent, scope and order columns, delete mode and numbering (per_scope: one sequence per scope; per_root: each root tree numbered from 1, its rows carrying the root id in tree_root).';
