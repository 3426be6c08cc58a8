-- Nested sets whose ids are unique within their scope only (a key on
-- (scope, id), as on a table Citus distributes by its scope:
-- docs/design/citus.md).  Each scope is a tree of its own, the same id
-- names a different node in each, and every look-up by id, parent or move
-- target stays in the row's scope.  Errors are shown as "SQLSTATE: message".
CREATE FUNCTION try_scoped(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The key is (shop, id): attach accepts it when shop is the scope column.
CREATE TABLE shop_cats (shop text NOT NULL, id int NOT NULL, parent_id int, name text,
                        PRIMARY KEY (shop, id));
SELECT chronicle.tree_attach('shop_cats', scope_column => 'shop', on_delete => 'promote');
SELECT scope_column, ids_unique_in FROM chronicle._tree_tables WHERE tbl = 'shop_cats'::regclass;
-- The lock trigger carries the attachment (Citus copies it to every shard).
SELECT tgnargs, replace(encode(tgargs, 'escape'), '\000', ' | ') AS args
  FROM pg_trigger WHERE tgrelid = 'shop_cats'::regclass AND tgname = 'chronicle_tree_1_lock';

-- A table whose ids are unique keeps today's rule (ids unique in the table),
-- with or without a key on (scope, id) beside it.
CREATE TABLE global_cats (shop text NOT NULL, id int PRIMARY KEY, parent_id int, UNIQUE (shop, id));
SELECT chronicle.tree_attach('global_cats', scope_column => 'shop');
SELECT ids_unique_in FROM chronicle._tree_tables WHERE tbl = 'global_cats'::regclass;

-- Unique with a third column, or (scope, id) without the scope column
-- attached: TR004.
CREATE TABLE loose_cats (shop text NOT NULL, id int NOT NULL, parent_id int, v int, UNIQUE (shop, id, v));
SELECT try_scoped($$SELECT chronicle.tree_attach('loose_cats', scope_column => 'shop')$$) AS three_columns;
CREATE TABLE pair_cats (shop text NOT NULL, id int NOT NULL, parent_id int, UNIQUE (id, shop));
SELECT try_scoped($$SELECT chronicle.tree_attach('pair_cats')$$) AS no_scope_column;
SELECT try_scoped($$SELECT chronicle.tree_attach('pair_cats', scope_column => 'shop', numbering => 'per_root')$$)
       AS per_root;
-- (id, scope) in that order is the same key.
SELECT chronicle.tree_attach('pair_cats', scope_column => 'shop');
SELECT ids_unique_in FROM chronicle._tree_tables WHERE tbl = 'pair_cats'::regclass;

-- Plain SQL: the same ids in two scopes, each scope numbered from 1.
INSERT INTO shop_cats VALUES ('a', 1, NULL, 'a-root'), ('a', 2, 1, 'a-two'), ('a', 3, 2, 'a-three'),
                             ('b', 1, NULL, 'b-root'), ('b', 2, 1, 'b-two'), ('b', 3, 1, 'b-three');
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats ORDER BY shop, lft;
-- One row: its parent is looked for in its own scope.
INSERT INTO shop_cats VALUES ('b', 4, 2, 'b-four');
SELECT shop, id, lft, rgt, depth FROM shop_cats WHERE shop = 'b' ORDER BY lft;
SELECT shop, id, lft, rgt FROM shop_cats WHERE shop = 'a' ORDER BY lft;
-- A parent that exists only in another scope is no parent: TR002.
SELECT try_scoped($$INSERT INTO shop_cats VALUES ('a', 9, 4, 'orphan')$$) AS parent_in_other_scope;
SELECT try_scoped($$INSERT INTO shop_cats VALUES ('a', 9, 4, 'orphan'), ('a', 10, 9, 'orphan2')$$)
       AS parent_in_other_scope_bulk;
-- A new scope with a root whose id is taken elsewhere.
INSERT INTO shop_cats VALUES ('c', 2, NULL, 'c-root');
SELECT shop, id, lft, rgt FROM shop_cats WHERE shop = 'c';

-- UPDATE of the parent moves within the row's scope only (one row, then many).
UPDATE shop_cats SET parent_id = 3 WHERE shop = 'b' AND id = 4;
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('a', 'b') ORDER BY shop, lft;
UPDATE shop_cats SET parent_id = 1 WHERE id = 3;
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('a', 'b') ORDER BY shop, lft;
SELECT try_scoped($$UPDATE shop_cats SET parent_id = 4 WHERE shop = 'a' AND id = 2$$) AS move_to_other_scope;

-- The functions name a node by id and scope: in_scope, of any type the scope
-- column's input accepts.
SELECT id, name FROM chronicle.tree_subtree(NULL::shop_cats, 1, in_scope => 'b'::text);
SELECT id, name FROM chronicle.tree_subtree(NULL::shop_cats, 1, 1, 'a');
SELECT id, name FROM chronicle.tree_children(NULL::shop_cats, 1, in_scope => 'b');
SELECT id, name FROM chronicle.tree_ancestors(NULL::shop_cats, 4, in_scope => 'b');
-- Without it, an id in one scope only is found there; in several, 21000.
SELECT id, name FROM chronicle.tree_ancestors(NULL::shop_cats, 4);
SELECT try_scoped($$SELECT * FROM chronicle.tree_subtree(NULL::shop_cats, 1)$$) AS ambiguous;
SELECT try_scoped($$SELECT * FROM chronicle.tree_children(NULL::shop_cats, 2)$$) AS ambiguous_children;
SELECT try_scoped($$SELECT * FROM chronicle.tree_subtree(NULL::shop_cats, 4, in_scope => 'a')$$) AS not_in_scope;
SELECT try_scoped($$SELECT * FROM chronicle.tree_subtree(NULL::shop_cats, 7)$$) AS unknown;

-- tree_move: the node and its target in the given scope.
SELECT chronicle.tree_move('shop_cats', 4, 1, 'first_child', in_scope => 'b');
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop = 'b' ORDER BY lft;
SELECT try_scoped($$SELECT chronicle.tree_move('shop_cats', 3, 2)$$) AS move_ambiguous;
SELECT try_scoped($$SELECT chronicle.tree_move('shop_cats', 4, 1, in_scope => 'a')$$) AS move_unknown_node;
SELECT try_scoped($$SELECT chronicle.tree_move('shop_cats', 3, 4, in_scope => 'c')$$) AS move_node_not_in_scope;
SELECT try_scoped($$SELECT chronicle.tree_move('shop_cats', 2, 4, in_scope => 'a')$$) AS target_not_in_scope;
SELECT chronicle.tree_move('shop_cats', 3, 2, 'after', in_scope => 'a');
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop = 'a' ORDER BY lft;

-- tree_insert: the row's scope names the target's scope.
SELECT chronicle.tree_insert('shop_cats', '{"shop": "a", "id": 5, "name": "a-five"}', 2, 'before')
       - 'name' AS inserted;
SELECT chronicle.tree_insert('shop_cats', '{"shop": "b", "id": 5, "name": "b-five"}', 2, 'first_child')
       - 'name' AS inserted;
SELECT try_scoped($$SELECT chronicle.tree_insert('shop_cats', '{"id": 6}', 2)$$) AS insert_target_ambiguous;
SELECT try_scoped($$SELECT chronicle.tree_insert('shop_cats', '{"shop": "c", "id": 6}', 4)$$) AS insert_target_not_in_scope;
SELECT chronicle.tree_insert('shop_cats', '{"id": 6, "name": "b-six"}', 4) - 'name' AS target_in_one_scope;
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('a', 'b') ORDER BY shop, lft;

-- Deletes stay in their scope: on_delete promote re-parents only the
-- deleted node's children in its own scope (scope b has children of a node 2 too).
DELETE FROM shop_cats WHERE shop = 'a' AND id = 2;
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('a', 'b') ORDER BY shop, lft;
SELECT chronicle.tree_delete('shop_cats', 2, 'promote', in_scope => 'b');
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('a', 'b') ORDER BY shop, lft;
SELECT try_scoped($$SELECT chronicle.tree_delete('shop_cats', 1)$$) AS delete_ambiguous;
SELECT chronicle.tree_delete('shop_cats', 5, 'cascade', 'a');
-- Several rows of two scopes in one statement.
DELETE FROM shop_cats WHERE id = 1 AND shop IN ('a', 'b');
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats ORDER BY shop, lft;

-- A cascade tree: a multi-row DELETE removes the subtrees in the rows' own
-- scope, never the same ids' children elsewhere.
CREATE TABLE shelves (store int NOT NULL, id int NOT NULL, parent_id int, PRIMARY KEY (store, id));
SELECT chronicle.tree_attach('shelves', scope_column => 'store');
INSERT INTO shelves SELECT s, i, CASE WHEN i = 1 THEN NULL ELSE (i / 2) END
  FROM generate_series(1, 2) s, generate_series(1, 7) i;
DELETE FROM shelves WHERE store = 1 AND id IN (2, 3);
SELECT store, count(*) AS nodes, max(rgt) AS max_rgt FROM shelves GROUP BY store ORDER BY store;
-- in_scope as an integer, or as text, for an integer scope.
SELECT id FROM chronicle.tree_children(NULL::shelves, 2, in_scope => 2);
SELECT id FROM chronicle.tree_children(NULL::shelves, 3, in_scope => '2');
SELECT try_scoped($$SELECT * FROM chronicle.tree_children(NULL::shelves, 3, in_scope => 'x')$$) AS bad_scope;
-- tree_insert into an integer scope (a scope type passed by value), without
-- a target and with one: the stored row.
SELECT chronicle.tree_insert('shelves', '{"store": 2, "id": 20}') AS inserted;
SELECT chronicle.tree_insert('shelves', '{"store": 2, "id": 21}', 20, 'before') AS inserted;
SELECT chronicle.tree_insert('shelves', '{"store": 1, "id": 21}', 1) AS inserted;
SELECT store, id, parent_id, lft, rgt, depth FROM shelves WHERE id >= 20 ORDER BY store, lft;
-- A table without a scope column has no scope to give.
CREATE TABLE plain_tree (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('plain_tree');
INSERT INTO plain_tree VALUES (1, NULL);
SELECT try_scoped($$SELECT * FROM chronicle.tree_subtree(NULL::plain_tree, 1, in_scope => 1)$$) AS no_scope_column;

-- UPDATE of the scope column: the node takes its subtree to the new scope,
-- whose ids it must not collide with (the key says so: 23505).
INSERT INTO shop_cats VALUES ('d', 1, NULL, 'd-root'), ('d', 2, 1, 'd-two'), ('d', 3, 2, 'd-three');
INSERT INTO shop_cats VALUES ('e', 1, NULL, 'e-root');
UPDATE shop_cats SET shop = 'e', parent_id = 1 WHERE shop = 'd' AND id = 2;
SELECT shop, id, parent_id, lft, rgt, depth FROM shop_cats WHERE shop IN ('d', 'e') ORDER BY shop, lft;
SELECT try_scoped($$UPDATE shop_cats SET shop = 'e', parent_id = NULL WHERE shop = 'd' AND id = 1$$) AS id_taken;

-- in_scope on a table whose ids are unique filters: a node in another scope
-- is not found.
INSERT INTO global_cats VALUES ('x', 1, NULL), ('x', 2, 1), ('y', 3, NULL);
SELECT id FROM chronicle.tree_subtree(NULL::global_cats, 1, in_scope => 'x');
SELECT try_scoped($$SELECT * FROM chronicle.tree_subtree(NULL::global_cats, 1, in_scope => 'y')$$) AS filtered;
SELECT id FROM chronicle.tree_subtree(NULL::global_cats, 1);

-- Scopes compare with the scope column's own equality, as the tree's
-- statements compare them: in_scope => 1 names the scope 1.0 of a numeric
-- column, and 1.0 and 1.00 are one tree (numbered together), so a node of
-- one may move under a node of the other.
CREATE TABLE num_scoped (shop numeric NOT NULL, id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('num_scoped', scope_column => 'shop');
INSERT INTO num_scoped VALUES (1.0, 1, NULL), (1.0, 2, 1), (1.00, 3, NULL);
SELECT id, shop, lft, rgt FROM num_scoped ORDER BY lft;
SELECT id FROM chronicle.tree_subtree(NULL::num_scoped, 1, in_scope => 1);
SELECT chronicle.tree_move('num_scoped', 3, 1);
SELECT id, shop, parent_id, lft, rgt, depth FROM num_scoped ORDER BY lft;
SELECT count(*) AS problems FROM chronicle.tree_validate('num_scoped');
DROP TABLE num_scoped;

-- Every scope is valid, each alone too, and a rebuild changes nothing.
SELECT count(*) AS problems FROM chronicle.tree_validate('shop_cats');
SELECT count(*) AS problems FROM chronicle.tree_validate('shop_cats', 'e');
SELECT count(*) AS problems FROM chronicle.tree_validate('shelves', in_scope => 1);
SELECT chronicle.tree_rebuild('shop_cats') AS renumbered, chronicle.tree_rebuild('shelves') AS renumbered;
-- A broken scope is reported under its own name only.
SET session_replication_role = replica;
UPDATE shelves SET lft = 40 WHERE store = 2 AND id = 7;
RESET session_replication_role;
SELECT scope, node, problem FROM chronicle.tree_validate('shelves') ORDER BY 1, 2, 3;
SELECT count(*) AS problems FROM chronicle.tree_validate('shelves', 1);
SELECT chronicle.tree_rebuild('shelves') AS renumbered;
SELECT count(*) AS problems FROM chronicle.tree_validate('shelves');

DROP TABLE shop_cats, global_cats, loose_cats, pair_cats, shelves, plain_tree;
DROP FUNCTION try_scoped(text);
