-- tree_bulk: an INSERT whose rows form whole new trees stores each row once,
-- already numbered (the plan node "chronicle tree numbers", prenumber.cpp);
-- the insert trigger still numbers the tree and writes only what differs.
-- Every case is compared with the same rows inserted through a data-modifying
-- CTE, which the node never serves (rows stored without numbers, then
-- numbered by the trigger, as every INSERT was before).
CREATE TABLE tb (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('tb');
CREATE TABLE tb_ref (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('tb_ref');
-- Rows this transaction wrote a second time (updates, HOT or not).
CREATE FUNCTION rewritten(t regclass) RETURNS bigint LANGUAGE sql
    AS $$ SELECT pg_catalog.pg_stat_get_xact_tuples_updated(t) $$;
-- Rows whose numbers differ between the two tables.
CREATE FUNCTION differ(a regclass, b regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s x FULL JOIN %s y USING (id)
                     WHERE x.lft IS DISTINCT FROM y.lft OR x.rgt IS DISTINCT FROM y.rgt
                        OR x.depth IS DISTINCT FROM y.depth', a, b) INTO n;
    RETURN n;
END $$;

-- Where the node goes: an INSERT ... SELECT or a multi-row VALUES; not a
-- single row, RETURNING, ON CONFLICT, or a data-modifying CTE.
EXPLAIN (COSTS OFF) INSERT INTO tb SELECT g, NULL, 'x' FROM generate_series(1, 3) g;
EXPLAIN (COSTS OFF) INSERT INTO tb VALUES (1, NULL, 'a'), (2, 1, 'b');
EXPLAIN (COSTS OFF) INSERT INTO tb VALUES (1, NULL, 'a');
EXPLAIN (COSTS OFF) INSERT INTO tb VALUES (1, NULL, 'a'), (2, 1, 'b') RETURNING id;
EXPLAIN (COSTS OFF) INSERT INTO tb VALUES (1, NULL, 'a'), (2, 1, 'b') ON CONFLICT DO NOTHING;

-- The seed's example, exactly, written once.
BEGIN;
INSERT INTO tb VALUES (1,NULL,'Home'),(2,1,'About'),(3,1,'Products'),
                      (4,3,'Laptops'),(5,3,'Smartphones'),(6,1,'Contact');
SELECT rewritten('tb') AS rewritten;
COMMIT;
SELECT id, name, lft, rgt, depth FROM tb ORDER BY lft;

-- 2,000 rows in breadth-first order (each parent before its children), into
-- a tree that has rows: new trees go after them.  Written once.
BEGIN;
INSERT INTO tb SELECT g, CASE WHEN g > 100 THEN 100 + (g - 101) / 4 END, 'n' || g
  FROM generate_series(100, 2099) g;
SELECT rewritten('tb') AS rewritten;
COMMIT;
BEGIN;
WITH s AS (INSERT INTO tb_ref VALUES (1,NULL,'Home'),(2,1,'About'),(3,1,'Products'),
                                     (4,3,'Laptops'),(5,3,'Smartphones'),(6,1,'Contact')
           RETURNING 1) SELECT count(*) FROM s;
WITH s AS (INSERT INTO tb_ref SELECT g, CASE WHEN g > 100 THEN 100 + (g - 101) / 4 END, 'n' || g
             FROM generate_series(100, 2099) g RETURNING 1) SELECT count(*) FROM s;
SELECT rewritten('tb_ref') > 0 AS reference_rewrote;
COMMIT;
SELECT differ('tb', 'tb_ref') AS differ, (SELECT count(*) FROM chronicle.tree_validate('tb')) AS problems;

-- Rows that join existing nodes (here beside a new tree): numbered after
-- they are stored, as before.
BEGIN;
INSERT INTO tb VALUES (3000, 3, 'Tablets'), (3001, NULL, 'Jobs'), (3002, 3001, 'Open'), (3003, 3000, 'Small');
SELECT rewritten('tb') > 0 AS rewritten;
COMMIT;
WITH s AS (INSERT INTO tb_ref VALUES (3000, 3, 'Tablets'), (3001, NULL, 'Jobs'), (3002, 3001, 'Open'), (3003, 3000, 'Small')
           RETURNING 1) SELECT count(*) FROM s;
SELECT differ('tb', 'tb_ref') AS differ, (SELECT count(*) FROM chronicle.tree_validate('tb')) AS problems;

-- A cycle among the new rows, a repeated id, a missing parent: the errors of before.
INSERT INTO tb VALUES (4000, 4001, 'a'), (4001, 4000, 'b');
INSERT INTO tb VALUES (4000, NULL, 'a'), (4000, NULL, 'b');
INSERT INTO tb VALUES (4000, NULL, 'a'), (4001, 4999, 'b');
-- Rows that bring numbers (a restore) are checked as before, not predicted.
INSERT INTO tb (id, parent_id, name, lft, rgt, depth) VALUES (4000, NULL, 'a', 1, 4, 0), (4001, 4000, 'b', 2, 3, 1);
-- Triggers that do not fire (session_replication_role = replica): nothing
-- is numbered, as before; tree_rebuild numbers the rows afterwards.
SET session_replication_role = replica;
INSERT INTO tb VALUES (4000, NULL, 'a'), (4001, 4000, 'b');
RESET session_replication_role;
SELECT id, lft, rgt, depth FROM tb WHERE id >= 4000 ORDER BY id;
SELECT chronicle.tree_rebuild('tb') AS renumbered;
SELECT id, lft, rgt, depth FROM tb WHERE id >= 4000 ORDER BY id;

-- Scopes and an order column: each scope's new trees in that scope; siblings
-- by (pos, id).  A scope without rows is predicted; with rows, its new roots
-- go among the existing ones by pos, and are numbered after being stored.
CREATE TABLE ts (id int PRIMARY KEY, parent_id int, site text NOT NULL, pos int);
SELECT chronicle.tree_attach('ts', scope_column => 'site', order_column => 'pos');
CREATE TABLE ts_ref (id int PRIMARY KEY, parent_id int, site text NOT NULL, pos int);
SELECT chronicle.tree_attach('ts_ref', scope_column => 'site', order_column => 'pos');
BEGIN;
INSERT INTO ts SELECT g, CASE WHEN g % 50 > 0 THEN g - g % 50 + (g % 50 - 1) / 3 END,
                      CASE WHEN g < 500 THEN 'a' ELSE 'b' END, (g * 7919) % 13
  FROM generate_series(0, 999) g;
SELECT rewritten('ts') AS rewritten;
COMMIT;
WITH s AS (INSERT INTO ts_ref SELECT g, CASE WHEN g % 50 > 0 THEN g - g % 50 + (g % 50 - 1) / 3 END,
                                     CASE WHEN g < 500 THEN 'a' ELSE 'b' END, (g * 7919) % 13
             FROM generate_series(0, 999) g RETURNING 1) SELECT count(*) FROM s;
SELECT differ('ts', 'ts_ref') AS differ, (SELECT count(*) FROM chronicle.tree_validate('ts')) AS problems;
BEGIN;
INSERT INTO ts VALUES (5000, NULL, 'a', 5), (5001, 5000, 'a', 1), (5002, NULL, 'c', 2), (5003, 5002, 'c', 1);
SELECT rewritten('ts') > 0 AS rewritten;
COMMIT;
WITH s AS (INSERT INTO ts_ref VALUES (5000, NULL, 'a', 5), (5001, 5000, 'a', 1), (5002, NULL, 'c', 2), (5003, 5002, 'c', 1)
           RETURNING 1) SELECT count(*) FROM s;
SELECT differ('ts', 'ts_ref') AS differ, (SELECT count(*) FROM chronicle.tree_validate('ts')) AS problems;
SELECT site, id, pos, lft, rgt, depth FROM ts WHERE id >= 5000 OR depth = 0 ORDER BY site, lft;

-- per_root: each new root tree from 1, tree_root its root's id; rows that
-- join an existing tree are numbered after they are stored.
CREATE TABLE tr (id int PRIMARY KEY, parent_id int, pos int);
SELECT chronicle.tree_attach('tr', order_column => 'pos', numbering => 'per_root');
CREATE TABLE tr_ref (id int PRIMARY KEY, parent_id int, pos int);
SELECT chronicle.tree_attach('tr_ref', order_column => 'pos', numbering => 'per_root');
BEGIN;
INSERT INTO tr SELECT g, CASE WHEN g % 10 > 0 THEN g - g % 10 + (g % 10 - 1) / 2 END, (g * 31) % 7
  FROM generate_series(0, 299) g;
SELECT rewritten('tr') AS rewritten;
COMMIT;
WITH s AS (INSERT INTO tr_ref SELECT g, CASE WHEN g % 10 > 0 THEN g - g % 10 + (g % 10 - 1) / 2 END, (g * 31) % 7
             FROM generate_series(0, 299) g RETURNING 1) SELECT count(*) FROM s;
BEGIN;
INSERT INTO tr VALUES (1000, 5, 3), (1001, NULL, 1), (1002, 1001, 2);
SELECT rewritten('tr') > 0 AS rewritten;
COMMIT;
WITH s AS (INSERT INTO tr_ref VALUES (1000, 5, 3), (1001, NULL, 1), (1002, 1001, 2) RETURNING 1) SELECT count(*) FROM s;
SELECT differ('tr', 'tr_ref') AS differ,
       (SELECT count(*) FROM tr JOIN tr_ref USING (id) WHERE tr.tree_root IS DISTINCT FROM tr_ref.tree_root) AS roots_differ,
       (SELECT count(*) FROM chronicle.tree_validate('tr')) AS problems;
SELECT id, parent_id, pos, tree_root, lft, rgt, depth FROM tr WHERE tree_root IN (0, 1001) ORDER BY tree_root, lft;

-- A BEFORE ROW INSERT trigger could change a row after the prediction: no node.
CREATE FUNCTION rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER rename BEFORE INSERT ON tb FOR EACH ROW EXECUTE FUNCTION rename();
EXPLAIN (COSTS OFF) INSERT INTO tb SELECT g, NULL, 'x' FROM generate_series(1, 3) g;
DROP TABLE tb, tb_ref, ts, ts_ref, tr, tr_ref;
DROP FUNCTION rewritten(regclass), differ(regclass, regclass), rename();
