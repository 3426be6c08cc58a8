-- Issue 10's reproduction, as written there (role sec_mallory, in no
-- chronicle role; run as the superuser in the suite's fresh database, before
-- anything else).  On a chronicle that runs its tree SQL under the caller's
-- search_path, the INSERT makes sec_mallory a superuser.
\set ON_ERROR_STOP 0
SET client_min_messages = warning;
CREATE TABLE public.t (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('public.t');
INSERT INTO public.t VALUES (1, NULL, 'root');
GRANT SELECT, INSERT ON public.t TO sec_mallory;
CREATE SCHEMA m AUTHORIZATION sec_mallory;
SET SESSION AUTHORIZATION sec_mallory;
CREATE FUNCTION m.eq(a int, b int) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN IF current_user <> 'sec_mallory' THEN EXECUTE 'ALTER ROLE sec_mallory SUPERUSER'; END IF;
      RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR m.= (FUNCTION = m.eq, LEFTARG = int, RIGHTARG = int);
SET search_path = m, pg_catalog;
INSERT INTO public.t VALUES (2, 1, 'child');
\echo @@ repro:insert :SQLSTATE
RESET SESSION AUTHORIZATION;
RESET search_path;
DROP SCHEMA m CASCADE;
