-- Fixtures for test/hostile/gen.py's cases (run once, stops at the first error).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION chronicle;

SELECT chronicle.define_reducer('acct', '{
  "AccountOpened":  {"set": {"owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}'::jsonb);
SELECT chronicle.append('acct-1', 'AccountOpened', '{"Owner":"A","InitialBalance":0}',
                        event_id => '00000000-0000-0000-0000-000000000001');
SELECT chronicle.append('acct-1', 'DepositMade', '{"Amount":100}');
SELECT chronicle.append('bad-1', 'DepositMade', '{"Amount":"ten"}');
SELECT chronicle.append('huge-1', 'DepositMade', '{"Amount":1e130000}');
SELECT chronicle.append('huge-1', 'DepositMade', '{"Amount":1e130000}');

CREATE FUNCTION raises(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'reducer says no' USING ERRCODE = 'P0001'; END $$;
CREATE FUNCTION arr(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[1]'::jsonb $$;
CREATE FUNCTION gone(s jsonb, e chronicle.events) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SELECT chronicle.define_reducer('fn_raises', 'raises(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('fn_array', 'arr(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('fn_dropped', 'gone(jsonb, chronicle.events)'::regprocedure);
DROP FUNCTION gone(jsonb, chronicle.events);

-- Trees: an int tree, a text tree, a scoped tree.
CREATE TABLE t_int (id int PRIMARY KEY, parent_id int REFERENCES t_int, name text);
SELECT chronicle.tree_attach('t_int');
INSERT INTO t_int VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 1, 'c'), (4, 3, 'd'), (5, NULL, 'e'), (6, 5, 'f');
CREATE TABLE t_text (id text PRIMARY KEY, parent_id text, name text);
SELECT chronicle.tree_attach('t_text');
INSERT INTO t_text VALUES ('a', NULL, 'a'), ('b', 'a', 'b');
CREATE TABLE t_scope (id int PRIMARY KEY, parent_id int, s int);
SELECT chronicle.tree_attach('t_scope', scope_column => 's');
INSERT INTO t_scope VALUES (1, NULL, 1), (2, 1, 1), (3, NULL, 2);
-- Ids unique within their scope only: id 1 is in both scopes, 3 in scope 2.
CREATE TABLE t_sid (s int, id int, parent_id int, PRIMARY KEY (s, id));
SELECT chronicle.tree_attach('t_sid', scope_column => 's');
INSERT INTO t_sid VALUES (1, 1, NULL), (1, 2, 1), (2, 1, NULL), (2, 3, 1);

-- Relations that are not (or cannot be) trees.
CREATE TABLE plain (id int PRIMARY KEY, parent_id int);
INSERT INTO plain VALUES (1, NULL), (2, 1);
CREATE TABLE nounique (id int, parent_id int);
CREATE TABLE nullable_id (id int UNIQUE, parent_id int);
CREATE TABLE odd_types (id int PRIMARY KEY, parent_id int, j json, p point);
CREATE TABLE mismatch (id int PRIMARY KEY, parent_id text);
CREATE TABLE lft_text (id int PRIMARY KEY, parent_id int, lft text);
CREATE VIEW v_plain AS SELECT * FROM plain;
CREATE MATERIALIZED VIEW mv_plain AS SELECT * FROM plain;
CREATE SEQUENCE seq;
CREATE TYPE comp AS (id int, parent_id int);
CREATE TABLE parted (id int, parent_id int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
CREATE FOREIGN DATA WRAPPER dummy_fdw;
CREATE SERVER dummy_srv FOREIGN DATA WRAPPER dummy_fdw;
CREATE FOREIGN TABLE ft (id int, parent_id int) SERVER dummy_srv;
CREATE UNLOGGED TABLE unlogged_t (id int PRIMARY KEY, parent_id int);
CREATE TABLE inh_parent (id int PRIMARY KEY, parent_id int);
CREATE TABLE inh_child () INHERITS (inh_parent);

-- Trees changed behind chronicle's back after attach.
CREATE TABLE t_renamed (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('t_renamed');
INSERT INTO t_renamed VALUES (1, NULL, 'r'), (2, 1, 's');
ALTER TABLE t_renamed RENAME COLUMN parent_id TO up_id;
CREATE TABLE t_dropcol (id int PRIMARY KEY, parent_id int, extra text);
SELECT chronicle.tree_attach('t_dropcol');
INSERT INTO t_dropcol VALUES (1, NULL, 'x'), (2, 1, 'y');
ALTER TABLE t_dropcol DROP COLUMN extra;
CREATE TABLE t_dropparent (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_dropparent');
CREATE TABLE t_retype (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_retype');
CREATE TABLE t_retype2 (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_retype2');
INSERT INTO t_retype2 VALUES (1, NULL);
CREATE TABLE t_gone (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_gone');
CREATE TABLE gone_oid AS SELECT 't_gone'::regclass::oid AS oid;
DROP TABLE t_gone;
CREATE TABLE t_gone (id int PRIMARY KEY, parent_id int);
CREATE TABLE t_trunc (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_trunc');
INSERT INTO t_trunc VALUES (5, NULL), (6, 5);

-- A tree whose numbering was broken behind chronicle's back (triggers off).
CREATE TABLE t_corrupt (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_corrupt');
INSERT INTO t_corrupt VALUES (1, NULL), (2, 1), (3, 1), (4, 1);
ALTER TABLE t_corrupt DISABLE TRIGGER USER;
UPDATE t_corrupt SET rgt = NULL WHERE id = 3;
UPDATE t_corrupt SET depth = NULL WHERE id = 4;
ALTER TABLE t_corrupt ENABLE TRIGGER USER;

-- Invariant checks raise HS001 when they fail.
CREATE FUNCTION check_that(ok boolean) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'invariant broken' USING ERRCODE = 'HS001';
    END IF;
END $$;

-- User columns named like the aliases of chronicle's own queries.
CREATE TABLE t_names (id int PRIMARY KEY, parent_id int, t int, p int, n int, c int, up int, r int, v int, sc int);
SELECT chronicle.tree_attach('t_names');
INSERT INTO t_names (id, parent_id) VALUES (1, NULL), (2, 1), (3, 2), (4, 1);

-- User triggers that skip an inserted row, or delete it again.
CREATE TABLE t_skip (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('t_skip');
INSERT INTO t_skip VALUES (1, NULL);
CREATE FUNCTION skip_50() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN IF NEW.id = 50 THEN RETURN NULL; END IF; RETURN NEW; END $$;
CREATE TRIGGER a_skip BEFORE INSERT ON t_skip FOR EACH ROW EXECUTE FUNCTION skip_50();
CREATE FUNCTION delete_51() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN DELETE FROM public.t_skip WHERE id = 51; RETURN NULL; END $$;
CREATE TRIGGER z_delete AFTER INSERT ON t_skip FOR EACH ROW EXECUTE FUNCTION delete_51();

-- Raises 22021 when the error message of q is not valid text in the database encoding.
CREATE FUNCTION message_is_valid(q text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m text;
BEGIN
    EXECUTE q;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
    PERFORM pg_catalog.convert_from(pg_catalog.convert_to(m, 'UTF8'), 'UTF8');
END $$;
