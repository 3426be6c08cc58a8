-- Per-root numbering (issue 15): tree_attach(..., numbering => 'per_root')
-- numbers each root tree from 1 on its own; tree_root holds the root's id, so
-- a write shifts only its own tree, and (tree_root, lft) is one index range.
\set VERBOSITY terse
-- Its own schema: the regression tests share one database.
CREATE SCHEMA tree_per_root;
SET search_path = tree_per_root, public;

CREATE TABLE f (id int PRIMARY KEY, parent_id int, name text);
INSERT INTO f VALUES (1, NULL, 'a'), (2, 1, 'a1'), (3, 1, 'a2'), (10, NULL, 'b'), (11, 10, 'b1');
SELECT chronicle.tree_attach('f', numbering => 'per_root');
SELECT numbering FROM chronicle._tree_tables WHERE tbl = 'f'::regclass;
SELECT id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT indexrelid::regclass::text LIKE 'chronicle_tree_%_lft' AS chronicle_index, pg_get_indexdef(indexrelid, 1, false) AS col1,
       pg_get_indexdef(indexrelid, 2, false) AS col2 FROM pg_index WHERE indrelid = 'f'::regclass AND NOT indisprimary;

-- An insert shifts only its own tree: tree 10 is not written.
CREATE TEMP TABLE before AS SELECT id, xmin::text AS x FROM f;
INSERT INTO f VALUES (4, 2, 'a1x');
SELECT id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT string_agg(id::text, ',' ORDER BY id) AS rewritten FROM f JOIN before USING (id) WHERE f.xmin::text <> before.x;
-- A new root is a tree of its own, numbered from 1; so is a multi-row insert's.
INSERT INTO f VALUES (20, NULL, 'c');
INSERT INTO f VALUES (30, NULL, 'd'), (31, 30, 'd1'), (32, 31, 'd2'), (12, 10, 'b2'), (5, 3, 'a2x');
SELECT id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');

-- Reads: subtree, ancestors, children; a subtree is one index range.
SELECT string_agg(id::text, ',') AS subtree FROM chronicle.tree_subtree(NULL::f, 30);
SELECT string_agg(id::text, ',') AS ancestors FROM chronicle.tree_ancestors(NULL::f, 32);
SELECT string_agg(id::text, ',') AS children FROM chronicle.tree_children(NULL::f, 1);
SET enable_seqscan = off;
CREATE FUNCTION plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        RETURN NEXT regexp_replace(line, 'chronicle_tree_\d+_lft', 'chronicle_tree_<oid>_lft');
    END LOOP;
END $$;
SELECT plan('SELECT * FROM f WHERE tree_root = 1 AND lft BETWEEN 2 AND 7 ORDER BY lft');
RESET enable_seqscan;

-- Moves: within a tree, into another tree (plain UPDATE and tree_move), a
-- node made a root (UPDATE to NULL, tree_move with NULL target, before a root).
UPDATE f SET parent_id = 1 WHERE id = 4;
SELECT id, tree_root, lft, rgt, depth FROM f WHERE tree_root = 1 ORDER BY lft;
UPDATE f SET parent_id = 10 WHERE id = 3;             -- 3 and its child 5 go to tree 10
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f WHERE tree_root IN (1, 10) ORDER BY tree_root, lft;
SELECT chronicle.tree_move('f', 30, 11, 'first_child');  -- tree 30 joins tree 10 under 11
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f WHERE tree_root IN (10, 30) ORDER BY tree_root, lft;
SELECT chronicle.tree_move('f', 31, NULL);             -- 31 and 32 become tree 31
UPDATE f SET parent_id = NULL WHERE id = 3;            -- 3 and 5 become tree 3
SELECT chronicle.tree_move('f', 12, 1, 'before');      -- a root's sibling is a root
SELECT chronicle.tree_move('f', 2, 20, 'after');
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');
-- Within one tree the usual checks hold; between trees there is no cycle.
SELECT regress.error_of($$SELECT chronicle.tree_move('f', 10, 11, 'last_child')$$);
SELECT regress.error_of($$UPDATE f SET parent_id = 11 WHERE id = 10$$);
SELECT regress.error_of($$INSERT INTO f VALUES (99, 98, 'orphan')$$);
SELECT regress.error_of($$UPDATE f SET tree_root = 1 WHERE id = 11$$);
SELECT regress.error_of($$INSERT INTO f (id, parent_id, tree_root) VALUES (99, 1, 1)$$);
SELECT regress.error_of($$SELECT chronicle.tree_insert('f', '{"id": 99, "tree_root": 1}')$$);

-- A multi-row UPDATE across trees (one parent moves too, into a third tree).
UPDATE f SET parent_id = CASE id WHEN 30 THEN 20 WHEN 3 THEN 30 WHEN 4 THEN 3 END WHERE id IN (30, 3, 4);
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');

-- Functions: insert (first child, after a root), delete (cascade; promote of
-- a root: its children become roots).
SELECT chronicle.tree_insert('f', '{"id": 40, "name": "x"}', 20, 'first_child') ->> 'tree_root' AS joined;
SELECT chronicle.tree_insert('f', '{"id": 41, "name": "y"}', 20, 'after') ->> 'tree_root' AS own_tree;
SELECT chronicle.tree_delete('f', 30);
SELECT chronicle.tree_delete('f', 1, 'promote');
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');
-- Plain DELETE: a root (cascade), and several rows of several trees at once.
DELETE FROM f WHERE id = 31;
DELETE FROM f WHERE id IN (40, 11, 12);
SELECT id, parent_id, tree_root, lft, rgt, depth FROM f ORDER BY tree_root, lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');

-- Validate sees per-root damage; rebuild repairs it and then changes nothing.
ALTER TABLE f DISABLE TRIGGER USER;
UPDATE f SET tree_root = 20 WHERE id = 41;
UPDATE f SET tree_root = NULL WHERE id = 2;
ALTER TABLE f ENABLE TRIGGER USER;
SELECT * FROM chronicle.tree_validate('f') ORDER BY 1, 2, 3;
SELECT chronicle.tree_rebuild('f') AS repaired, chronicle.tree_rebuild('f') AS again;
SELECT count(*) AS problems FROM chronicle.tree_validate('f');

-- Bad arguments.
CREATE TABLE g (id int PRIMARY KEY, parent_id int, s int);
SELECT regress.error_of($$SELECT chronicle.tree_attach('g', numbering => 'per_tree')$$);
SELECT regress.error_of($$SELECT chronicle.tree_attach('g', numbering => NULL)$$);
SELECT regress.error_of($$SELECT chronicle.tree_attach('g', scope_column => 's', numbering => 'per_root')$$);
-- The default stays one sequence per scope.
SELECT chronicle.tree_attach('g');
SELECT numbering FROM chronicle._tree_tables WHERE tbl = 'g'::regclass;
SELECT count(*) AS tree_root_columns FROM pg_attribute WHERE attrelid = 'g'::regclass AND attname = 'tree_root';

-- With an order column: children by it within each tree; roots are trees.
CREATE TABLE o (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('o', order_column => 'name', numbering => 'per_root');
INSERT INTO o VALUES (1, NULL, 'r'), (2, 1, 'm'), (3, 1, 'c'), (4, NULL, 'q'), (5, 4, 'z');
UPDATE o SET parent_id = 1 WHERE id = 5;
UPDATE o SET name = 'a' WHERE id = 2;
SELECT id, name, tree_root, lft, rgt FROM o ORDER BY tree_root, lft;
SELECT chronicle.tree_rebuild('o') AS renumbered, count(*) AS problems FROM chronicle.tree_validate('o');

-- A data-only restore brings lft, rgt, depth and tree_root on every row: kept
-- when the trees stay valid; partial or invalid numbers are TR005.
CREATE TABLE f2 (LIKE f);
ALTER TABLE f2 ADD PRIMARY KEY (id);
SELECT chronicle.tree_attach('f2', numbering => 'per_root');
INSERT INTO f2 SELECT * FROM f;
SELECT count(*) AS restored, (SELECT count(*) FROM chronicle.tree_validate('f2')) AS problems FROM f2;
SELECT regress.error_of($$INSERT INTO f2 (id, parent_id, lft, rgt, depth) VALUES (500, NULL, 1, 2, 0)$$);
SELECT regress.error_of($$INSERT INTO f2 (id, parent_id, lft, rgt, depth, tree_root) VALUES (500, NULL, 1, 2, 0, 2)$$);
SELECT regress.error_of($$INSERT INTO f2 (id, parent_id, lft, rgt, depth, tree_root) VALUES (500, NULL, 1, 2, 0, 500)$$);

RESET search_path;
DROP SCHEMA tree_per_root CASCADE;
