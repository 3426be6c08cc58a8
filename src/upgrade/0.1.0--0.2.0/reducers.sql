-- chronicle 0.1.0 -> 0.2.0: reducers are owned, and a function reducer's
-- function is stored as its qualified signature (issues 10 and 12).
--
-- fn: regprocedure -> text.  pg_upgrade refuses user columns of reg* types
-- other than regclass, regrole and regtype.  The text is what
-- define_reducer now stores (format_procedure_qualified): regprocedure's
-- output with an empty search_path qualifies the function and
-- chronicle.events, and a reducer function's first argument is always
-- jsonb, which format_procedure_qualified writes as pg_catalog.jsonb.
-- The column keeps its place, so the upgraded table matches a fresh one.
-- The trigger whose WHEN clause compares fn (as an oid) must go first:
-- PostgreSQL does not change the type of a column a trigger's WHEN uses.
-- The snapshots module's re-runnable SQL creates it again, comparing text.
DROP TRIGGER IF EXISTS snapshots_reducer_updated ON chronicle.reducers;
SELECT pg_catalog.set_config('search_path', '', true);
ALTER TABLE chronicle.reducers
    ALTER COLUMN fn TYPE pg_catalog.text
    USING pg_catalog.replace(fn::pg_catalog.text, '(jsonb,chronicle.events)', '(pg_catalog.jsonb,chronicle.events)');
-- A function dropped under 0.1.0 (a regprocedure keeps no dependency) left
-- its bare OID, which regprocedure prints as a number: no signature, and a
-- replay then failed with 22P02 ("expected a left parenthesis") instead of
-- SE004.  Such a reducer keeps a signature that names what happened and can
-- never resolve (nobody but the extension's owner creates functions in
-- schema chronicle); define_reducer replaces it as usual.
UPDATE chronicle.reducers
   SET fn = pg_catalog.format('chronicle.%I(pg_catalog.jsonb,chronicle.events)',
                              'function ' OPERATOR(pg_catalog.||) fn OPERATOR(pg_catalog.||) ' dropped before 0.2.0')
 WHERE fn OPERATOR(pg_catalog.~) '^[0-9]+$';
SELECT pg_catalog.set_config('search_path', 'pg_catalog', true);
COMMENT ON COLUMN chronicle.reducers.fn IS
    'A function reducer''s function as its schema-qualified signature (format_procedure_qualified), resolved when used: text survives pg_dump and pg_upgrade, regprocedure does not.';

-- owner: existing reducers belong to the role that owns the extension (the
-- role that created it): nobody recorded who defined them.
ALTER TABLE chronicle.reducers ADD COLUMN owner pg_catalog.regrole;
UPDATE chronicle.reducers
   SET owner = (SELECT e.extowner FROM pg_catalog.pg_extension e
                 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle')::pg_catalog.regrole;
ALTER TABLE chronicle.reducers ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN chronicle.reducers.owner IS
    'The role that defined the reducer; only it or a member of it may redefine it (docs/design/security.md).';
