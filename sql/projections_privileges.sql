-- Who may do what with projections.  The table belongs to whoever defined
-- it; appenders need no right on it (the observer writes as the table's
-- owner, restricted as VACUUM is); readers get SELECT; rebuild and drop are
-- for the table's owner.
CREATE ROLE regress_proj_definer IN ROLE chronicle_writer;
CREATE ROLE regress_proj_appender IN ROLE chronicle_writer;
CREATE ROLE regress_proj_reader IN ROLE chronicle_reader;
CREATE SCHEMA proj_acl AUTHORIZATION regress_proj_definer;

-- A function reducer that notes who ran it: whoever replays, fills or
-- appends, it runs as the role that chose it, the function's owner, here
-- postgres, restricted (a member of the owning role runs it as itself);
-- projections_hostile.sql shows why neither the appender nor the table's owner.
CREATE FUNCTION public.proj_acl_reduce(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'who', current_user)
$$;
GRANT EXECUTE ON FUNCTION public.proj_acl_reduce(jsonb, chronicle.events) TO chronicle_writer;
SELECT chronicle.define_reducer('proj_acl', 'public.proj_acl_reduce(jsonb, chronicle.events)'::regprocedure,
                                category => 'acl');
SELECT chronicle.append('acl-1', 'Created', '{}');

-- The definer needs CREATE on the schema the table goes in ...
SET ROLE regress_proj_definer;
SELECT regress.error_of($$SELECT chronicle.define_projection('acl', 'proj_acl', 'public.acl_counts', '{"n": "int"}')$$);
-- ... and gets the table.
SELECT chronicle.define_projection('acl', 'proj_acl', 'proj_acl.counts', '{"n": "int", "who": "text"}');
SELECT * FROM proj_acl.counts;
-- Code on the table (here a trigger) runs as its owner, whoever appends.
CREATE TABLE proj_acl.trail (who text, what text);
CREATE FUNCTION proj_acl.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO proj_acl.trail VALUES (current_user, TG_OP || ' ' || NEW.stream_id);
    RETURN NEW;
END $$;
CREATE TRIGGER note BEFORE INSERT OR UPDATE ON proj_acl.counts FOR EACH ROW EXECUTE FUNCTION proj_acl.note();
-- SELECT on the table is granted to chronicle_reader; the schema is the definer's to open.
GRANT USAGE ON SCHEMA proj_acl TO chronicle_reader;
RESET ROLE;
SELECT tableowner FROM pg_tables WHERE schemaname = 'proj_acl' AND tablename = 'counts';

-- Another writer appends: no right on the table, yet its row is kept.
SET ROLE regress_proj_appender;
SELECT chronicle.append('acl-1', 'Touched', '{}');
SELECT chronicle.append('acl-2', 'Created', '{}');
SELECT regress.error_of($$SELECT * FROM proj_acl.counts$$);
SELECT regress.error_of($$UPDATE proj_acl.counts SET n = 0$$);
SELECT regress.error_of($$SELECT chronicle.rebuild_projection('acl')$$);
SELECT regress.error_of($$SELECT chronicle.drop_projection('acl')$$);
RESET ROLE;
-- The reducer ran as its function's owner, the trigger as the table's owner.
SELECT * FROM proj_acl.counts ORDER BY stream_id;
SELECT * FROM proj_acl.trail;

-- Readers read the table, and cannot define.
SET ROLE regress_proj_reader;
SELECT stream_id, n FROM proj_acl.counts ORDER BY stream_id;
SELECT regress.error_of($$SELECT chronicle.define_projection('r', 'proj_acl', 'r', '{}')$$);
SELECT regress.error_of($$SELECT chronicle.rebuild_projection('acl')$$);
RESET ROLE;

-- The owner rebuilds (the reducer now runs as the owner, who runs the fold).
SET ROLE regress_proj_definer;
SELECT chronicle.rebuild_projection('acl');
SELECT * FROM proj_acl.counts ORDER BY stream_id;
SELECT chronicle.drop_projection('acl');
SELECT to_regclass('proj_acl.counts') AS dropped;
RESET ROLE;

-- A projection whose table its owner dropped by hand: another writer may
-- neither rebuild nor remove it (no table to own: it is its owner's), the
-- owner removes it.
SET ROLE regress_proj_definer;
SELECT chronicle.define_projection('acl_gone', 'proj_acl', 'proj_acl.gone', '{"n": "int"}');
DROP TABLE proj_acl.gone;
RESET ROLE;
SELECT owner FROM chronicle.projections WHERE name = 'acl_gone';
SET ROLE regress_proj_appender;
SELECT regress.error_of($$SELECT chronicle.rebuild_projection('acl_gone')$$);
SELECT regress.error_of($$SELECT chronicle.drop_projection('acl_gone', false)$$);
RESET ROLE;
SET ROLE regress_proj_definer;
SELECT chronicle.drop_projection('acl_gone', false);
RESET ROLE;
SELECT count(*) AS removed FROM chronicle.projections WHERE name = 'acl_gone';

DROP SCHEMA proj_acl CASCADE;
DELETE FROM chronicle.reducers WHERE name = 'proj_acl';
DROP FUNCTION public.proj_acl_reduce(jsonb, chronicle.events);
DROP ROLE regress_proj_definer, regress_proj_appender, regress_proj_reader;
