-- Nested sets: per-root numbering (issue 15).
ALTER TABLE chronicle._tree_tables
    ADD COLUMN numbering text NOT NULL DEFAULT 'per_scope' CHECK (numbering IN ('per_scope', 'per_root'));
-- tree_attach gained the numbering parameter.
DROP FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text);
