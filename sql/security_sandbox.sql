-- Code another role chose that chronicle runs inside your session (a
-- writer's function reducer during your append's automatic snapshot, the
-- triggers and domains of a writer's projection table during your append)
-- runs as its owner, restricted; whatever settings it changes are undone
-- when it returns, as PostgreSQL undoes them around index expressions and
-- REFRESH MATERIALIZED VIEW.  Otherwise a writer's set_config('search_path',
-- ..., false) survives into the appender's session, and the appender's next
-- unqualified operator is the writer's, run with the appender's rights.
CREATE ROLE regress_sbx_w IN ROLE chronicle_writer;
CREATE SCHEMA sbx AUTHORIZATION regress_sbx_w;
SET ROLE regress_sbx_w;
CREATE TABLE sbx.calls (who text, via text);
GRANT INSERT, SELECT ON sbx.calls TO PUBLIC;
-- The writer's operator: records who runs it (the escalation's payload).
CREATE FUNCTION sbx.eq(a int, b int) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sbx.calls VALUES (current_user, 'operator');
    RETURN a OPERATOR(pg_catalog.=) b;
END $$;
CREATE OPERATOR sbx.= (FUNCTION = sbx.eq, LEFTARG = int, RIGHTARG = int);
-- 1. a function reducer with automatic snapshots changes the session's path.
CREATE FUNCTION sbx.red(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sbx.calls VALUES (current_user, 'reducer');
    PERFORM pg_catalog.set_config('search_path', 'sbx, pg_catalog', false);
    PERFORM pg_catalog.set_config('statement_timeout', '4711', false);
    RETURN '{"n": 1}'::jsonb;
END $$;
SELECT chronicle.define_reducer('sbx_fn', 'sbx.red(jsonb, chronicle.events)'::regprocedure, 'sbxa', 1);
-- 2. a projection table's trigger does the same.
SELECT chronicle.define_reducer('sbx_rules', '{"E": {"set": {"n": "$.n"}}}', category => 'sbxb');
SELECT chronicle.define_projection('sbx_p', 'sbx_rules', 'sbx.p', '{"n": "int"}');
CREATE FUNCTION sbx.trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sbx.calls VALUES (current_user, 'trigger');
    PERFORM pg_catalog.set_config('search_path', 'sbx, pg_catalog', false);
    RETURN NULL;
END $$;
CREATE TRIGGER t AFTER INSERT OR UPDATE ON sbx.p FOR EACH ROW EXECUTE FUNCTION sbx.trg();
RESET ROLE;

-- The superuser appends to both categories; its path is its own afterwards,
-- and its next comparison runs pg_catalog's operator.
SET search_path = public;
SET statement_timeout = 0;
SELECT chronicle.append('sbxa-1', 'E', '{"n": 1}');
SHOW search_path;
SHOW statement_timeout;
SELECT 1 = 1 AS after_reducer;
SELECT chronicle.append('sbxb-1', 'E', '{"n": 2}');
SHOW search_path;
SELECT 1 = 1 AS after_trigger;
-- The same inside a transaction block and a function with its own SET clause.
BEGIN;
SELECT chronicle.append('sbxa-1', 'E', '{"n": 3}');
SELECT chronicle.append('sbxb-1', 'E', '{"n": 4}');
SHOW search_path;
COMMIT;
CREATE FUNCTION pg_temp.appends() RETURNS text LANGUAGE plpgsql SET statement_timeout = 0 AS $$
BEGIN
    PERFORM chronicle.append('sbxa-1', 'E', '{"n": 5}');
    PERFORM chronicle.append('sbxb-1', 'E', '{"n": 6}');
    RETURN pg_catalog.current_setting('search_path');
END $$;
SELECT pg_temp.appends();
SHOW search_path;
-- The writer's code did run, as the writer; its operator never did.
SELECT who, via, count(*) FROM sbx.calls GROUP BY 1, 2 ORDER BY 1, 2;
SELECT stream_id, n FROM sbx.p;
SELECT count(*) AS snapshots FROM chronicle.snapshots WHERE reducer = 'sbx_fn';
RESET search_path;
RESET statement_timeout;

SELECT chronicle.drop_projection('sbx_p');
DELETE FROM chronicle.snapshots WHERE reducer LIKE 'sbx\_%';
DELETE FROM chronicle.reducers WHERE name LIKE 'sbx\_%';
SET client_min_messages = warning;
DROP SCHEMA sbx CASCADE;
RESET client_min_messages;
DROP ROLE regress_sbx_w;
