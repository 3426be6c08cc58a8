-- tree_bulk_hostile: the bulk-load plan node (prenumber.cpp, "chronicle tree
-- numbers") against hostile tables, roles and sessions.  The node may only
-- save writes: whatever it does must be what the statement did without it
-- (no crash, no value a role could not read before, no leak).
\set regress_db :DBNAME

-- 1. lft of another type than integer.  The guard trigger's WHEN clause keeps
-- ALTER COLUMN ... TYPE away, but the table's owner may drop the guard first.
-- The node writes int4 numbers into lft, rgt and depth: into a numeric column
-- that was a pointer the server followed (signal 11, every session of the
-- cluster lost).  It must stand aside; the trigger then refuses the table
-- (TR004: the attachment no longer fits it) instead of numbering it.
CREATE TABLE thb_type (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('thb_type');
DROP TRIGGER chronicle_tree_2_guard ON thb_type;
ALTER TABLE thb_type ALTER COLUMN lft TYPE numeric;
EXPLAIN (COSTS OFF) INSERT INTO thb_type VALUES (1, NULL), (2, 1), (3, NULL);
INSERT INTO thb_type VALUES (1, NULL), (2, 1), (3, NULL);
SELECT id, lft, rgt, depth FROM thb_type ORDER BY id;
DROP TABLE thb_type;

-- 2. A role that may INSERT into a tree table but not SELECT from it.  The
-- numbers the node predicts for its rows say where the tree ends, i.e. how
-- many rows the scope holds, including rows of scopes the role cannot read;
-- an error's "Failing row contains" shows the values of every column the
-- INSERT named, readable or not.  The node must not give such a role's rows
-- numbers before the trigger (which runs as the owner and shows nothing).
CREATE ROLE regress_tree_bulk_inserter;
CREATE TABLE thb_priv (id int PRIMARY KEY, parent_id int, site text NOT NULL, name text NOT NULL);
SELECT chronicle.tree_attach('thb_priv', scope_column => 'site');
INSERT INTO thb_priv SELECT g, NULL, 'secret', 'n' FROM generate_series(1, 50) g;
GRANT INSERT ON thb_priv TO regress_tree_bulk_inserter;
SET ROLE regress_tree_bulk_inserter;
-- The detail must show NULL for lft and rgt, not 102 and 103.
INSERT INTO thb_priv VALUES (1000, NULL, 'secret', 'a', NULL, NULL, NULL),
                            (1001, 1000, 'secret', NULL, NULL, NULL, NULL);
-- Its rows are numbered all the same (the trigger, as the owner).
INSERT INTO thb_priv VALUES (1000, NULL, 'secret', 'a', NULL, NULL, NULL),
                            (1001, 1000, 'secret', 'b', NULL, NULL, NULL);
RESET ROLE;
SELECT id, lft, rgt, depth FROM thb_priv WHERE id >= 1000 ORDER BY id;
-- A role that may read lft and rgt but not the scope they number cannot tell
-- how many rows a scope holds: its rows are not predicted either.
GRANT SELECT (lft, rgt) ON thb_priv TO regress_tree_bulk_inserter;
SET ROLE regress_tree_bulk_inserter;
INSERT INTO thb_priv VALUES (1002, NULL, 'secret', 'a', NULL, NULL, NULL),
                            (1003, 1002, 'secret', NULL, NULL, NULL, NULL);
RESET ROLE;
-- A role that may read lft, rgt and site learns nothing new from them: its rows are
-- predicted (written once), and the error shows what it could SELECT anyway.
-- (A table of its own: pg_stat_get_xact_tuples_updated also counts updates
-- of earlier transactions that the backend has not reported yet.)
CREATE TABLE thb_read (id int PRIMARY KEY, parent_id int, site text NOT NULL, name text NOT NULL);
SELECT chronicle.tree_attach('thb_read', scope_column => 'site');
INSERT INTO thb_read SELECT g, NULL, 'secret', 'n' FROM generate_series(1, 50) g;
GRANT INSERT, SELECT (lft, rgt, site) ON thb_read TO regress_tree_bulk_inserter;
SET ROLE regress_tree_bulk_inserter;
INSERT INTO thb_read VALUES (2000, NULL, 'secret', 'a', NULL, NULL, NULL),
                            (2001, 2000, 'secret', NULL, NULL, NULL, NULL);
BEGIN;
INSERT INTO thb_read VALUES (2000, NULL, 'secret', 'a', NULL, NULL, NULL),
                            (2001, 2000, 'secret', 'b', NULL, NULL, NULL);
SELECT pg_catalog.pg_stat_get_xact_tuples_updated('thb_read'::regclass) AS rewritten;
COMMIT;
RESET ROLE;
SELECT id, lft, rgt, depth FROM thb_read WHERE id >= 2000 ORDER BY id;
SELECT (SELECT count(*) FROM chronicle.tree_validate('thb_priv'))
     + (SELECT count(*) FROM chronicle.tree_validate('thb_read')) AS problems;
DROP TABLE thb_priv, thb_read;
DROP ROLE regress_tree_bulk_inserter;

-- 3. A long transaction of many bulk INSERTs.  What the node registers for
-- the trigger must go when the trigger has taken it, not stay in the
-- transaction's memory until commit (it grew by some 400 bytes a statement:
-- 4 MB here, 400 MB for a million statements).
CREATE TABLE thb_long (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('thb_long', numbering => 'per_root');
BEGIN;
DO $$ BEGIN
    FOR i IN 1..10000 LOOP
        INSERT INTO thb_long VALUES (2 * i, NULL), (2 * i + 1, 2 * i);
    END LOOP;
END $$;
SELECT total_bytes < 1048576 AS bounded
  FROM pg_backend_memory_contexts WHERE name = 'TopTransactionContext';
COMMIT;
SELECT count(*) AS rows, count(*) FILTER (WHERE lft IS NULL) AS unnumbered,
       (SELECT count(*) FROM chronicle.tree_validate('thb_long')) AS problems
  FROM thb_long;
-- The same with every INSERT failing after the node registered its
-- prediction (a row's id is taken: the primary key refuses it as it is
-- stored), each caught by a PL/pgSQL exception block: the aborted
-- subtransaction takes the registration with it.
BEGIN;
DO $$ BEGIN
    FOR i IN 1..10000 LOOP
        BEGIN
            INSERT INTO thb_long VALUES (100000 + i, NULL), (2, 100000 + i);
        EXCEPTION WHEN unique_violation THEN NULL;
        END;
    END LOOP;
END $$;
SELECT total_bytes < 1048576 AS bounded
  FROM pg_backend_memory_contexts WHERE name = 'TopTransactionContext';
COMMIT;
SELECT count(*) AS rows, (SELECT count(*) FROM chronicle.tree_validate('thb_long')) AS problems
  FROM thb_long;
DROP TABLE thb_long;

-- 4. The insert trigger switched off while the rows are read (a superuser's
-- volatile function sets session_replication_role): the trigger will not
-- number the rows, so the node must not either; they stay unnumbered, as
-- without the node (and tree_rebuild numbers them).
CREATE TABLE thb_role (id int PRIMARY KEY, parent_id int, note text);
SELECT chronicle.tree_attach('thb_role');
INSERT INTO thb_role
  SELECT g, NULL, set_config('session_replication_role', CASE WHEN g = 2 THEN 'replica' ELSE 'origin' END, false)
  FROM generate_series(1, 2) g;
RESET session_replication_role;
SELECT id, lft, rgt, depth FROM thb_role ORDER BY id;
DROP TABLE thb_role;

-- 5. A trigger merely named like chronicle's, on a table that is not attached:
-- no node (it would only copy the rows), and in a database without chronicle,
-- where the library is loaded all the same (session_preload_libraries, or a
-- LOAD), an INSERT must not fail looking for chronicle's catalog.
CREATE TABLE thb_name (id int PRIMARY KEY, parent_id int);
CREATE FUNCTION thb_nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER chronicle_tree_3_insert AFTER INSERT ON thb_name
    FOR EACH STATEMENT EXECUTE FUNCTION thb_nothing();
EXPLAIN (COSTS OFF) INSERT INTO thb_name VALUES (1, NULL), (2, 1);
DROP TABLE thb_name;
DROP FUNCTION thb_nothing();
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_tree_bulk_noext;
CREATE DATABASE regress_tree_bulk_noext;
\c regress_tree_bulk_noext
LOAD 'chronicle';
CREATE TABLE thb_name (id int PRIMARY KEY, parent_id int);
CREATE FUNCTION thb_nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER chronicle_tree_3_insert AFTER INSERT ON thb_name
    FOR EACH STATEMENT EXECUTE FUNCTION thb_nothing();
INSERT INTO thb_name VALUES (1, NULL), (2, 1);
SELECT count(*) FROM thb_name;
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_tree_bulk_noext;

-- 6. Not a fix, a difference to know: a user's AFTER ROW INSERT trigger sees a
-- predicted row's numbers, where without the node (a single row, here) it
-- sees NULL.  chronicle's statement trigger, which fires after it, may still
-- correct them (a concurrent writer of the same tree: isolation spec
-- tree_bulk_predict).
CREATE TABLE thb_seen (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('thb_seen');
CREATE TABLE thb_seen_log (id int, lft int, rgt int, depth int);
CREATE FUNCTION thb_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO thb_seen_log VALUES (NEW.id, NEW.lft, NEW.rgt, NEW.depth); RETURN NULL; END $$;
CREATE TRIGGER a_log AFTER INSERT ON thb_seen FOR EACH ROW EXECUTE FUNCTION thb_log();
INSERT INTO thb_seen VALUES (1, NULL), (2, 1);
INSERT INTO thb_seen VALUES (3, 1);
SELECT * FROM thb_seen_log ORDER BY id;
DROP TABLE thb_seen, thb_seen_log;
DROP FUNCTION thb_log();

-- 7. Another difference to know: the node reads every row before storing the
-- first, so a volatile function in the SELECT sees none of the statement's
-- rows in the table (without the node, those stored before its call).  It is
-- called as often as before.
CREATE TABLE thb_vol (id int PRIMARY KEY, parent_id int, seen bigint);
SELECT chronicle.tree_attach('thb_vol');
CREATE TABLE thb_calls (n int);
CREATE FUNCTION thb_count(int) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO thb_calls VALUES ($1); RETURN (SELECT count(*) FROM thb_vol); END $$;
EXPLAIN (COSTS OFF) INSERT INTO thb_vol SELECT g, NULL, thb_count(g) FROM generate_series(1, 3) g;
INSERT INTO thb_vol SELECT g, NULL, thb_count(g) FROM generate_series(1, 3) g;
SELECT id, seen, lft FROM thb_vol ORDER BY id;
SELECT count(*) AS calls FROM thb_calls;
DROP TABLE thb_vol, thb_calls;
DROP FUNCTION thb_count(int);

-- 8. Checks of the INSERT itself that read lft, rgt or depth: a view's WITH
-- CHECK OPTION, a row-level security policy's WITH CHECK.  They saw NULL in
-- every new row (the trigger's numbering runs as the owner, not through the
-- view or the policy); given predicted numbers they would pass or refuse
-- rows differently.  The node stands aside for them (and only for them: a
-- check on other columns keeps it).
CREATE TABLE thb_wco (id int PRIMARY KEY, parent_id int, kind text);
SELECT chronicle.tree_attach('thb_wco');
CREATE VIEW thb_roots AS SELECT * FROM thb_wco WHERE depth IS NULL OR depth = 0 WITH CHECK OPTION;
CREATE VIEW thb_kinds AS SELECT * FROM thb_wco WHERE kind IS NOT NULL WITH CHECK OPTION;
EXPLAIN (COSTS OFF) INSERT INTO thb_roots (id, parent_id) VALUES (1, NULL), (2, 1);
INSERT INTO thb_roots (id, parent_id) VALUES (1, NULL), (2, 1);
EXPLAIN (COSTS OFF) INSERT INTO thb_kinds (id, parent_id, kind) VALUES (3, NULL, 'k'), (4, 3, 'k');
CREATE ROLE regress_tree_bulk_policy;
GRANT SELECT, INSERT ON thb_wco TO regress_tree_bulk_policy;
ALTER TABLE thb_wco ENABLE ROW LEVEL SECURITY;
CREATE POLICY thb_read ON thb_wco FOR SELECT USING (true);
CREATE POLICY thb_shallow ON thb_wco FOR INSERT WITH CHECK (depth IS NULL OR depth < 1);
SET ROLE regress_tree_bulk_policy;
EXPLAIN (COSTS OFF) INSERT INTO thb_wco (id, parent_id) VALUES (5, NULL), (6, 5);
INSERT INTO thb_wco (id, parent_id) VALUES (5, NULL), (6, 5);
RESET ROLE;
SELECT id, parent_id, lft, rgt, depth FROM thb_wco ORDER BY lft;
DROP TABLE thb_wco CASCADE;
DROP ROLE regress_tree_bulk_policy;

-- 9. A cached plan follows the table: the node comes and goes with
-- chronicle's trigger (detach, attach), a BEFORE ROW trigger, a new column,
-- and the rows are numbered exactly when the trigger is there to do it.
CREATE TABLE thb_plan (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('thb_plan');
PREPARE thb_load(int) AS
    INSERT INTO thb_plan SELECT g, CASE WHEN g > $1 THEN $1 END FROM generate_series($1, $1 + 2) g;
EXPLAIN (COSTS OFF) EXECUTE thb_load(10);
EXECUTE thb_load(10);
SELECT chronicle.tree_detach('thb_plan');
EXPLAIN (COSTS OFF) EXECUTE thb_load(20);
EXECUTE thb_load(20);
SELECT chronicle.tree_attach('thb_plan');
EXECUTE thb_load(30);
ALTER TABLE thb_plan ADD COLUMN note text DEFAULT 'n';
EXECUTE thb_load(40);
CREATE FUNCTION thb_before() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'b'; RETURN NEW; END $$;
CREATE TRIGGER thb_before BEFORE INSERT ON thb_plan FOR EACH ROW EXECUTE FUNCTION thb_before();
EXPLAIN (COSTS OFF) EXECUTE thb_load(50);
EXECUTE thb_load(50);
SELECT id, parent_id, lft, rgt, depth, note FROM thb_plan ORDER BY lft, id;
SELECT count(*) AS problems FROM chronicle.tree_validate('thb_plan');
DEALLOCATE thb_load;
DROP TABLE thb_plan;
DROP FUNCTION thb_before();
