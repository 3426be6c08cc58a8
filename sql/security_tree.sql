-- Security of the nested sets (issue 10, docs/design/security.md): a role
-- with ordinary privileges on someone else's tree table gains nothing
-- through chronicle, whatever it puts on its search_path.
--
-- regress_mallory owns schema regress_hostile and in it an operator for
-- every comparison on int4, int8, text and numeric and for + and - on int4.
-- Each records current_user and, when it runs as anyone but mallory, tries
-- to make mallory a superuser.  The tables belong to the superuser running
-- the test.  Chronicle's SQL runs with search_path = pg_catalog, pg_temp for
-- its whole execution (src/pg/spi.h), so none of them may ever be called.

CREATE ROLE regress_mallory IN ROLE chronicle_writer;
CREATE SCHEMA regress_hostile AUTHORIZATION regress_mallory;
CREATE TABLE public.hostile_calls (who text, op text);
GRANT INSERT ON public.hostile_calls TO PUBLIC;

SET ROLE regress_mallory;
DO $do$
DECLARE
    t text;
    op text;
    fn text;
    body text;
BEGIN
    FOREACH t IN ARRAY ARRAY['int4', 'int8', 'text', 'numeric'] LOOP
        FOREACH op IN ARRAY ARRAY['=', '<>', '<', '>', '<=', '>=', '+', '-'] LOOP
            CONTINUE WHEN op IN ('+', '-') AND t <> 'int4';
            fn := format('regress_hostile.%I', 'op_' || t || '_' || md5(op));
            body := format($f$
                BEGIN
                    INSERT INTO public.hostile_calls VALUES (current_user, %L);
                    IF current_user <> 'regress_mallory' THEN
                        EXECUTE 'ALTER ROLE regress_mallory SUPERUSER';
                    END IF;
                    RETURN a OPERATOR(pg_catalog.%s) b;
                END $f$, t || ' ' || op, op);
            EXECUTE format('CREATE FUNCTION %s(a pg_catalog.%s, b pg_catalog.%s) RETURNS %s
                            LANGUAGE plpgsql AS %L', fn, t, t,
                           CASE WHEN op IN ('+', '-') THEN 'pg_catalog.' || t ELSE 'pg_catalog.bool' END, body);
            EXECUTE format('CREATE OPERATOR regress_hostile.%s (FUNCTION = %s, LEFTARG = pg_catalog.%s, RIGHTARG = pg_catalog.%s)',
                           op, fn, t, t);
        END LOOP;
    END LOOP;
END $do$;
RESET ROLE;
SELECT count(*) AS hostile_operators FROM pg_operator WHERE oprnamespace = 'regress_hostile'::regnamespace;

-- The hostile operators work: a query of mallory's with her path calls them.
SET ROLE regress_mallory;
SET search_path = regress_hostile, pg_catalog;
SELECT 1 = 1 AS called_directly;
RESET search_path;
RESET ROLE;
SELECT who, op FROM public.hostile_calls;
TRUNCATE public.hostile_calls;

-- One tree table per id type, owned by the superuser; mallory may read and
-- write rows, as an application role would.
CREATE TABLE public.sec_t4 (id int4 PRIMARY KEY, parent_id int4, name text);
CREATE TABLE public.sec_t8 (id int8 PRIMARY KEY, parent_id int8, name text);
CREATE TABLE public.sec_tt (id text PRIMARY KEY, parent_id text, name text);
CREATE TABLE public.sec_tn (id numeric PRIMARY KEY, parent_id numeric, name text);
CREATE TABLE public.sec_ts (id int4 PRIMARY KEY, parent_id int4, grp text NOT NULL, name text);
SELECT chronicle.tree_attach('public.sec_t4'), chronicle.tree_attach('public.sec_t8'),
       chronicle.tree_attach('public.sec_tt'), chronicle.tree_attach('public.sec_tn'),
       chronicle.tree_attach('public.sec_ts', scope_column => 'grp', on_delete => 'promote');
INSERT INTO public.sec_t4 VALUES (1, NULL, 'root');
INSERT INTO public.sec_t8 VALUES (1, NULL, 'root');
INSERT INTO public.sec_tt VALUES ('1', NULL, 'root');
INSERT INTO public.sec_tn VALUES (1, NULL, 'root');
INSERT INTO public.sec_ts VALUES (1, NULL, 'a', 'root a'), (2, NULL, 'b', 'root b');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.sec_t4, public.sec_t8, public.sec_tt, public.sec_tn, public.sec_ts
    TO regress_mallory;

-- Every trigger path, with the hostile schema first on mallory's path.
SET ROLE regress_mallory;
SET search_path = regress_hostile, pg_catalog, public;
INSERT INTO public.sec_t4 VALUES (2, 1, 'one row');
INSERT INTO public.sec_t4 VALUES (3, 1, 'many'), (4, 3, 'rows'), (5, 3, 'at once');
UPDATE public.sec_t4 SET parent_id = 2 WHERE id OPERATOR(pg_catalog.=) 3;
UPDATE public.sec_t4 SET parent_id = 1 WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY[4, 5]);
DELETE FROM public.sec_t4 WHERE id OPERATOR(pg_catalog.=) 5;
INSERT INTO public.sec_t8 VALUES (2, 1, 'a'), (3, 2, 'b');
UPDATE public.sec_t8 SET parent_id = 1 WHERE id OPERATOR(pg_catalog.=) 3;
DELETE FROM public.sec_t8 WHERE id OPERATOR(pg_catalog.=) 2;
INSERT INTO public.sec_tt VALUES ('2', '1', 'a'), ('3', '2', 'b');
UPDATE public.sec_tt SET parent_id = '1' WHERE id OPERATOR(pg_catalog.=) '3';
DELETE FROM public.sec_tt WHERE id OPERATOR(pg_catalog.=) '2';
INSERT INTO public.sec_tn VALUES (2, 1, 'a'), (3, 2, 'b');
UPDATE public.sec_tn SET parent_id = 1 WHERE id OPERATOR(pg_catalog.=) 3;
DELETE FROM public.sec_tn WHERE id OPERATOR(pg_catalog.=) 2;
-- Scopes: a move to another scope, and a promoting delete.
INSERT INTO public.sec_ts VALUES (3, 1, 'a', 'a child'), (4, 3, 'a', 'a grandchild');
UPDATE public.sec_ts SET parent_id = 2, grp = 'b' WHERE id OPERATOR(pg_catalog.=) 3;
DELETE FROM public.sec_ts WHERE id OPERATOR(pg_catalog.=) 3;

-- Every tree function.
SELECT chronicle.tree_insert('public.sec_t4', '{"id": 6, "name": "by function"}', 1, 'first_child') ->> 'lft' AS inserted_lft;
SELECT chronicle.tree_move('public.sec_t4', 6, 2);
SELECT chronicle.tree_move('public.sec_t4', 6, 4, 'before');
SELECT chronicle.tree_move('public.sec_ts', 4, NULL::int4);
SELECT chronicle.tree_move('public.sec_ts', 4, 2, 'first_child');
SELECT count(*) AS subtree FROM chronicle.tree_subtree(NULL::public.sec_t4, 1);
SELECT count(*) AS ancestors FROM chronicle.tree_ancestors(NULL::public.sec_t4, 6);
SELECT count(*) AS children FROM chronicle.tree_children(NULL::public.sec_t4, 1);
SELECT count(*) AS children FROM chronicle.tree_children(NULL::public.sec_ts, 1);
SELECT count(*) AS problems FROM chronicle.tree_validate('public.sec_t4');
SELECT chronicle.tree_delete('public.sec_t4', 6) AS deleted;
SELECT chronicle.tree_delete('public.sec_t8', 3::int8, 'promote') AS deleted;
SELECT chronicle.tree_insert('public.sec_tt', '{"id": "9", "name": "t"}', '1'::text) ->> 'depth' AS depth;
SELECT chronicle.tree_delete('public.sec_tt', '9'::text) AS deleted;
SELECT chronicle.tree_insert('public.sec_tn', '{"id": 9, "name": "n"}', 1::numeric) ->> 'depth' AS depth;
SELECT chronicle.tree_move('public.sec_tn', 9::numeric, NULL::numeric);
SELECT chronicle.tree_rebuild('public.sec_t4') AS renumbered;
SELECT chronicle.tree_rebuild('public.sec_ts') AS renumbered;
RESET search_path;
RESET ROLE;

-- Nothing hostile ran, mallory is what she was, and the trees are right.
SELECT count(*) AS hostile_calls FROM public.hostile_calls;
SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = 'regress_mallory';
SELECT id, parent_id, lft, rgt, depth FROM public.sec_t4 ORDER BY lft;
SELECT id, parent_id, grp, lft, rgt, depth FROM public.sec_ts ORDER BY grp, lft;
SELECT 'sec_t4' AS t, count(*) FROM chronicle.tree_validate('public.sec_t4')
UNION ALL SELECT 'sec_t8', count(*) FROM chronicle.tree_validate('public.sec_t8')
UNION ALL SELECT 'sec_tt', count(*) FROM chronicle.tree_validate('public.sec_tt')
UNION ALL SELECT 'sec_tn', count(*) FROM chronicle.tree_validate('public.sec_tn')
UNION ALL SELECT 'sec_ts', count(*) FROM chronicle.tree_validate('public.sec_ts');

-- Tree writes by function need what the plain statement needs (42501 with
-- PostgreSQL's message otherwise); the numbering itself is chronicle's.
CREATE ROLE regress_tree_reader IN ROLE chronicle_writer;
GRANT SELECT ON public.sec_t4 TO regress_tree_reader;
SET ROLE regress_tree_reader;
SELECT regress.error_of($$SELECT chronicle.tree_insert('public.sec_t4', '{"id": 7}', 1)$$) AS insert_without_insert;
SELECT regress.error_of($$SELECT chronicle.tree_move('public.sec_t4', 3, 1)$$) AS move_without_update;
SELECT regress.error_of($$SELECT chronicle.tree_delete('public.sec_t4', 4)$$) AS delete_without_delete;
SELECT regress.error_of($$SELECT chronicle.tree_rebuild('public.sec_t4')$$) AS rebuild_without_update;
RESET ROLE;
-- UPDATE of the parent column alone is enough to move (as for UPDATE ... SET parent_id);
-- DELETE alone to delete; promote also moves the children, so it needs UPDATE of the parent.
GRANT UPDATE (parent_id) ON public.sec_t4 TO regress_tree_reader;
GRANT INSERT (id, parent_id) ON public.sec_t4 TO regress_tree_reader;
SET ROLE regress_tree_reader;
SELECT regress.error_of($$SELECT chronicle.tree_insert('public.sec_t4', '{"id": 7}', 1, 'first_child')$$) AS insert_with_column_insert;
SELECT regress.error_of($$SELECT chronicle.tree_insert('public.sec_t4', '{"id": 8, "name": "x"}', 1)$$) AS insert_of_a_column_not_granted;
SELECT regress.error_of($$SELECT chronicle.tree_move('public.sec_t4', 7, 2)$$) AS move_with_parent_update;
SELECT regress.error_of($$SELECT chronicle.tree_delete('public.sec_t4', 7)$$) AS delete_still_refused;
SELECT regress.error_of($$SELECT chronicle.tree_rebuild('public.sec_t4')$$) AS rebuild_still_refused;
RESET ROLE;
REVOKE UPDATE (parent_id) ON public.sec_t4 FROM regress_tree_reader;
GRANT DELETE, UPDATE (lft, rgt, depth) ON public.sec_t4 TO regress_tree_reader;
SET ROLE regress_tree_reader;
SELECT regress.error_of($$SELECT chronicle.tree_delete('public.sec_t4', 7, 'promote')$$) AS promote_without_parent_update;
SELECT regress.error_of($$SELECT chronicle.tree_delete('public.sec_t4', 7)$$) AS delete_with_delete;
SELECT regress.error_of($$SELECT chronicle.tree_rebuild('public.sec_t4')$$) AS rebuild_with_numbering_update;
RESET ROLE;
SELECT count(*) AS problems FROM chronicle.tree_validate('public.sec_t4');
-- Row-level security that applies to the caller: the functions (which write
-- as the owner) refuse; plain statements stay available.
ALTER TABLE public.sec_t4 ENABLE ROW LEVEL SECURITY;
CREATE POLICY sec_t4_all ON public.sec_t4 USING (true);
GRANT UPDATE (parent_id) ON public.sec_t4 TO regress_tree_reader;
SET ROLE regress_tree_reader;
SELECT regress.error_of($$SELECT chronicle.tree_move('public.sec_t4', 3, 1)$$) AS move_under_rls;
RESET ROLE;
ALTER TABLE public.sec_t4 DISABLE ROW LEVEL SECURITY;
DROP POLICY sec_t4_all ON public.sec_t4;

-- A TEMP table cannot be attached (its row in chronicle._tree_tables would
-- outlive it): TR004.
CREATE TEMP TABLE sec_temp (id int PRIMARY KEY, parent_id int);
SELECT regress.error_of($$SELECT chronicle.tree_attach('sec_temp')$$) AS attach_temp;
SELECT count(*) AS temp_rows FROM chronicle._tree_tables WHERE tbl = 'sec_temp'::regclass;

-- An id type whose equality lives outside pg_catalog (citext): tree SQL uses
-- the type's own operator, schema-qualified (case-insensitive ids work as
-- the unique index sees them).
CREATE SCHEMA regress_ci;
CREATE EXTENSION citext SCHEMA regress_ci;
CREATE TABLE public.sec_ci (id regress_ci.citext PRIMARY KEY, parent_id regress_ci.citext, name text);
SELECT chronicle.tree_attach('public.sec_ci');
INSERT INTO public.sec_ci VALUES ('Root', NULL, 'r'), ('a', 'root', 'child of Root by another case');
SELECT chronicle.tree_move('public.sec_ci', 'A'::regress_ci.citext, NULL::regress_ci.citext);
SELECT id, parent_id, lft, rgt, depth FROM public.sec_ci ORDER BY lft;
SELECT chronicle.tree_delete('public.sec_ci', 'ROOT'::regress_ci.citext) AS deleted;
SELECT count(*) AS problems FROM chronicle.tree_validate('public.sec_ci');

-- A node (or in_scope) argument of another type than the column's goes
-- through the column type's input, which for a domain runs its CHECK: as the
-- caller, as a plain statement would, never as the table's owner.  Mallory's
-- domain, used by the superuser's table, records who checks it (the
-- superuser's own INSERTs run it as the superuser, as PostgreSQL does: the
-- record of those is cleared before mallory's calls).
SET ROLE regress_mallory;
CREATE FUNCTION regress_hostile.checked(v int4) RETURNS bool LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.hostile_calls VALUES (current_user, 'domain check');
    RETURN true;
END $f$;
CREATE DOMAIN regress_hostile.checked_id AS int4 CHECK (regress_hostile.checked(VALUE));
RESET ROLE;
CREATE TABLE public.sec_dom (shop int NOT NULL, id regress_hostile.checked_id PRIMARY KEY, parent_id regress_hostile.checked_id);
SELECT chronicle.tree_attach('public.sec_dom', scope_column => 'shop');
INSERT INTO public.sec_dom VALUES (1, 1, NULL), (1, 2, 1), (1, 3, 1);
GRANT SELECT, INSERT, DELETE, UPDATE (parent_id) ON public.sec_dom TO regress_mallory;
TRUNCATE public.hostile_calls;
SET ROLE regress_mallory;
SELECT chronicle.tree_delete('public.sec_dom', '3'::text, in_scope => '1'::text) AS deleted;
SELECT chronicle.tree_move('public.sec_dom', '2'::text, NULL::text, in_scope => 1) AS moved;
RESET ROLE;
SELECT who, op, count(*) FROM public.hostile_calls GROUP BY 1, 2 ORDER BY 1, 2;
SELECT id, parent_id, lft, rgt, depth FROM public.sec_dom ORDER BY lft;
DROP TABLE public.sec_dom;

DROP TABLE public.sec_t4, public.sec_t8, public.sec_tt, public.sec_tn, public.sec_ts, public.sec_ci, public.hostile_calls;
DROP EXTENSION citext;
DROP SCHEMA regress_ci;
SET client_min_messages = warning;
DROP SCHEMA regress_hostile CASCADE;
RESET client_min_messages;
DROP ROLE regress_mallory, regress_tree_reader;
