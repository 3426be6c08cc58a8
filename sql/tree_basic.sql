-- Nested sets on the user's own tables (docs/reference/tree.md): the seed example,
-- placements, delete modes, queries, scopes, id types, odd names, attach over
-- existing rows, rebuild.  Errors are shown as "SQLSTATE: message" by
-- regress.error_of (sql/setup.sql).

-- The seed's example, exactly.
CREATE TABLE nested_set (id int PRIMARY KEY, parent_id int REFERENCES nested_set, name text);
SELECT chronicle.tree_attach('nested_set');
INSERT INTO nested_set VALUES (1,NULL,'Home'),(2,1,'About'),(3,1,'Products'),
                              (4,3,'Laptops'),(5,3,'Smartphones'),(6,1,'Contact');
SELECT id, name, lft, rgt FROM nested_set ORDER BY lft;
SELECT name FROM nested_set WHERE lft BETWEEN 4 AND 9 ORDER BY lft;
SELECT name FROM chronicle.tree_ancestors(NULL::nested_set, 5);

-- attach added and indexed lft, rgt, depth (depth 0 at a root).
SELECT id, name, depth FROM nested_set ORDER BY lft;
SELECT regexp_replace(indexdef, 'chronicle_tree_[0-9]+_', 'chronicle_tree_<oid>_') AS index
FROM pg_indexes WHERE tablename = 'nested_set' AND indexname LIKE 'chronicle_tree_%' ORDER BY 1;

-- The query functions return the table's own rows.
SELECT id, name, lft, rgt, depth FROM chronicle.tree_subtree(NULL::nested_set, 3);
SELECT id, name FROM chronicle.tree_subtree(NULL::nested_set, 1, 1);
SELECT id, name FROM chronicle.tree_subtree(NULL::nested_set, 1, 0);
SELECT id, name FROM chronicle.tree_children(NULL::nested_set, 1);
SELECT id, name FROM chronicle.tree_children(NULL::nested_set, 4);
SELECT count(*) AS ancestors_of_root FROM chronicle.tree_ancestors(NULL::nested_set, 1);
SELECT (s).name FROM chronicle.tree_subtree(NULL::nested_set, 3::bigint) s;

-- Plain SQL keeps the numbering: a plain UPDATE of the parent moves the subtree
-- to the last child position of the new parent.
UPDATE nested_set SET parent_id = 6 WHERE id = 3;
SELECT id, name, lft, rgt, depth FROM nested_set ORDER BY lft;
-- An UPDATE that leaves the parent unchanged moves nothing.
UPDATE nested_set SET name = 'Shop', parent_id = 6 WHERE id = 3;
SELECT id, name, lft, rgt, depth FROM nested_set ORDER BY lft;
UPDATE nested_set SET parent_id = 1 WHERE id = 3;
SELECT * FROM chronicle.tree_validate('nested_set');

-- tree_move, every placement (and a NULL target: the last root).
SELECT chronicle.tree_move('nested_set', 6, 1, 'first_child');
SELECT id, name, lft, rgt, depth, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_move('nested_set', 6, 1, 'last_child');
SELECT id, name, lft, rgt, depth, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_move('nested_set', 5, 4, 'before');
SELECT id, name, lft, rgt, depth, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_move('nested_set', 2, 5, 'after');
SELECT id, name, lft, rgt, depth, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_move('nested_set', 3, NULL);
SELECT id, name, lft, rgt, depth, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_move('nested_set', 3, 1, 'after');
SELECT chronicle.tree_move('nested_set', 3, 1, 'last_child');
SELECT * FROM chronicle.tree_validate('nested_set');

-- tree_insert returns the stored row; placements as for tree_move.
SELECT chronicle.tree_insert('nested_set', '{"id": 7, "name": "Tablets"}', 3, 'first_child');
SELECT chronicle.tree_insert('nested_set', '{"id": 8, "name": "Blog"}', 6, 'before');
SELECT chronicle.tree_insert('nested_set', '{"id": 9, "name": "Jobs"}', 6, 'after');
SELECT chronicle.tree_insert('nested_set', '{"id": 10, "name": "Desktops"}', 3);
-- Without a target the node's own parent column decides, as for a plain INSERT
-- (the target's default, NULL::integer, only fixes the polymorphic type).
SELECT chronicle.tree_insert('nested_set', '{"id": 11, "parent_id": 2, "name": "Team"}');
SELECT chronicle.tree_insert('nested_set', '{"id": 12, "name": "Archive"}');
SELECT id, repeat('  ', depth) || name AS tree, lft, rgt FROM nested_set ORDER BY lft;
SELECT * FROM chronicle.tree_validate('nested_set');

-- Errors.
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 3, 4)$$) AS into_own_subtree;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 3, 3)$$) AS onto_itself;
SELECT regress.error_of($$UPDATE nested_set SET parent_id = 7 WHERE id = 3$$) AS cycle_by_update;
SELECT regress.error_of($$UPDATE nested_set SET parent_id = 3 WHERE id = 3$$) AS own_parent;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 99, 1)$$) AS unknown_node;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 3, 99)$$) AS unknown_target;
SELECT regress.error_of($$SELECT chronicle.tree_insert('nested_set', '{"id": 20}', 99)$$) AS unknown_target;
SELECT regress.error_of($$SELECT * FROM chronicle.tree_ancestors(NULL::nested_set, 99)$$) AS unknown_node;
SELECT regress.error_of($$INSERT INTO nested_set (id, name, lft) VALUES (20, 'x', 1)$$) AS insert_lft;
SELECT regress.error_of($$UPDATE nested_set SET rgt = rgt + 1 WHERE id = 1$$) AS update_rgt;
SELECT regress.error_of($$UPDATE nested_set SET depth = 3$$) AS update_depth;
-- The guard stands aside only for chronicle's own writes, which it recognises
-- by the read-only setting chronicle.tree_maintenance: SQL cannot switch it on.
SELECT regress.error_of($$SET chronicle.tree_maintenance = on$$) AS set_maintenance;
SELECT regress.error_of($$SELECT pg_catalog.set_config('chronicle.tree_maintenance', 'on', true)$$) AS set_config;
SELECT current_setting('chronicle.tree_maintenance') AS maintenance;
SELECT chronicle._tree_maintaining() AS maintaining;
-- A role with no chronicle role at all, allowed to update the table, gets the
-- guard's TR005 (its WHEN clause runs as that role).
CREATE ROLE tree_guarded_user;
GRANT SELECT, UPDATE ON nested_set TO tree_guarded_user;
SET ROLE tree_guarded_user;
SELECT regress.error_of($$UPDATE nested_set SET lft = lft WHERE id = 1$$) AS same_value;
SELECT regress.error_of($$UPDATE nested_set SET lft = 0 WHERE id = 1$$) AS update_lft_as_other_role;
RESET ROLE;
REVOKE ALL ON nested_set FROM tree_guarded_user;
DROP ROLE tree_guarded_user;
SELECT regress.error_of($$SELECT chronicle.tree_insert('nested_set', '{"id": 20, "lft": 1}')$$) AS insert_lft;
SELECT regress.error_of($$SELECT chronicle.tree_insert('nested_set', '{"id": 20, "nosuch": 1}')$$) AS unknown_column;
SELECT regress.error_of($$SELECT chronicle.tree_insert('nested_set', '[1]')$$) AS not_an_object;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 3, 1, 'sideways')$$) AS bad_placement;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', NULL::int, 1)$$) AS null_node;
SELECT regress.error_of($$SELECT chronicle.tree_delete('nested_set', 3, 'explode')$$) AS bad_mode;
SELECT regress.error_of($$SELECT * FROM chronicle.tree_subtree(NULL::nested_set, 1, -1)$$) AS negative_depth;
SELECT regress.error_of($$SELECT chronicle.tree_attach('nested_set')$$) AS attached_twice;
SELECT regress.error_of($$SELECT * FROM chronicle.tree_subtree(1, 1)$$) AS not_a_row_type;
CREATE TABLE plain_table (id int PRIMARY KEY, parent_id int);
SELECT regress.error_of($$SELECT chronicle.tree_rebuild('plain_table')$$) AS not_attached;
SELECT regress.error_of($$SELECT * FROM chronicle.tree_children(NULL::plain_table, 1)$$) AS not_attached;
CREATE VIEW plain_view AS SELECT * FROM plain_table;
SELECT regress.error_of($$SELECT chronicle.tree_attach('plain_view')$$) AS a_view;
CREATE TABLE no_key (id int, parent_id int);
SELECT regress.error_of($$SELECT chronicle.tree_attach('no_key')$$) AS id_not_unique;
SELECT regress.error_of($$SELECT chronicle.tree_attach('plain_table', parent_column => 'nosuch')$$) AS no_column;
CREATE TABLE mixed (id int PRIMARY KEY, parent_id text);
SELECT regress.error_of($$SELECT chronicle.tree_attach('mixed')$$) AS type_mismatch;
SELECT regress.error_of($$SELECT chronicle.tree_attach('plain_table', on_delete => 'shred')$$) AS bad_on_delete;
SELECT regress.error_of($$SELECT chronicle.tree_attach(NULL)$$) AS null_table;
CREATE ROLE tree_stranger;
SET ROLE tree_stranger;
SELECT regress.error_of($$SELECT chronicle.tree_attach('plain_table')$$) AS not_owner;
RESET ROLE;
GRANT chronicle_writer TO tree_stranger;
SET ROLE tree_stranger;
SELECT regress.error_of($$SELECT chronicle.tree_attach('plain_table')$$) AS not_owner;
SELECT regress.error_of($$SELECT chronicle.tree_move('nested_set', 3, 1)$$) AS no_update_privilege;
RESET ROLE;
-- Nothing of the failed statements was written.
SELECT * FROM chronicle.tree_validate('nested_set');
SELECT count(*) AS rows FROM nested_set;

-- Deleting: tree_delete by mode (its own, whatever the table's on_delete).
SELECT chronicle.tree_delete('nested_set', 12, 'restrict') AS deleted;
SELECT regress.error_of($$SELECT chronicle.tree_delete('nested_set', 3, 'restrict')$$) AS restrict_with_children;
SELECT chronicle.tree_delete('nested_set', 2, 'promote') AS deleted;
SELECT id, repeat('  ', depth) || name AS tree, lft, rgt, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_delete('nested_set', 3) AS deleted;
SELECT id, repeat('  ', depth) || name AS tree, lft, rgt, parent_id FROM nested_set ORDER BY lft;
SELECT chronicle.tree_delete('nested_set', 9, 'restrict') AS deleted;
SELECT * FROM chronicle.tree_validate('nested_set');

-- Plain DELETE follows on_delete: cascade (the default) removes the subtree.
CREATE TABLE cat_cascade (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('cat_cascade');
INSERT INTO cat_cascade VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, 1, 'd'), (5, NULL, 'e');
DELETE FROM cat_cascade WHERE id = 2;
SELECT id, name, lft, rgt, depth FROM cat_cascade ORDER BY lft;
-- Several rows in one statement, one inside the other's subtree.
INSERT INTO cat_cascade VALUES (6, 4, 'f'), (7, 6, 'g'), (8, 5, 'h');
DELETE FROM cat_cascade WHERE id IN (4, 7, 8);
SELECT id, name, lft, rgt, depth FROM cat_cascade ORDER BY lft;
SELECT * FROM chronicle.tree_validate('cat_cascade');

-- promote lifts the children into the deleted node's place.
CREATE TABLE cat_promote (id int PRIMARY KEY, parent_id int REFERENCES cat_promote, name text);
SELECT chronicle.tree_attach('cat_promote', on_delete => 'promote');
INSERT INTO cat_promote VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, 2, 'd'), (5, 1, 'e');
SELECT regress.error_of($$DELETE FROM cat_promote WHERE id = 2$$) AS foreign_key_first;
ALTER TABLE cat_promote DROP CONSTRAINT cat_promote_parent_id_fkey;
DELETE FROM cat_promote WHERE id = 2;
SELECT id, name, lft, rgt, depth, parent_id FROM cat_promote ORDER BY lft;
INSERT INTO cat_promote VALUES (6, 3, 'f'), (7, 6, 'g');
DELETE FROM cat_promote WHERE id IN (3, 6);
SELECT id, name, lft, rgt, depth, parent_id FROM cat_promote ORDER BY lft;
SELECT * FROM chronicle.tree_validate('cat_promote');

-- restrict refuses to delete a node that has children.
CREATE TABLE cat_restrict (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('cat_restrict', on_delete => 'restrict');
INSERT INTO cat_restrict VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 1, 'c');
SELECT regress.error_of($$DELETE FROM cat_restrict WHERE id = 1$$) AS restrict;
SELECT regress.error_of($$DELETE FROM cat_restrict WHERE id IN (1, 2)$$) AS restrict_multi;
DELETE FROM cat_restrict WHERE id = 2;
DELETE FROM cat_restrict WHERE id IN (1, 3);
SELECT count(*) AS rows FROM cat_restrict;

-- With a foreign key ON DELETE CASCADE, PostgreSQL deletes the subtree and
-- the numbering follows.
CREATE TABLE cat_fk (id int PRIMARY KEY, parent_id int REFERENCES cat_fk ON DELETE CASCADE, name text);
SELECT chronicle.tree_attach('cat_fk');
INSERT INTO cat_fk VALUES (1, NULL, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, 3, 'd'), (5, 1, 'e'), (6, 2, 'f');
DELETE FROM cat_fk WHERE id = 2;
SELECT id, name, lft, rgt, depth FROM cat_fk ORDER BY lft;
SELECT * FROM chronicle.tree_validate('cat_fk');

-- An unknown parent without a foreign key is TR002, for single and multi-row statements.
SELECT regress.error_of($$INSERT INTO cat_cascade VALUES (50, 99, 'x')$$) AS unknown_parent;
SELECT regress.error_of($$INSERT INTO cat_cascade VALUES (50, 1, 'x'), (51, 99, 'y')$$) AS unknown_parent;
SELECT regress.error_of($$UPDATE cat_cascade SET parent_id = 99 WHERE id = 1$$) AS unknown_parent;

-- The numbering is kept as the table's owner (as foreign keys are checked):
-- a role allowed to INSERT and DELETE, but not to UPDATE, keeps the tree right,
-- and still cannot write the managed columns itself.
GRANT INSERT, DELETE, SELECT ON cat_cascade TO tree_stranger;
SET ROLE tree_stranger;
INSERT INTO cat_cascade VALUES (30, 1, 'by stranger'), (31, 30, 'by stranger');
INSERT INTO cat_cascade VALUES (32, NULL, 'by stranger');
DELETE FROM cat_cascade WHERE id = 30;
SELECT regress.error_of($$INSERT INTO cat_cascade (id, name, depth) VALUES (33, 'x', 0)$$) AS insert_depth;
RESET ROLE;
SELECT id, name, lft, rgt, depth FROM cat_cascade ORDER BY lft;
SELECT * FROM chronicle.tree_validate('cat_cascade');

-- Multi-row INSERT, COPY and UPDATE are handled once per statement.
CREATE TABLE bulk (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('bulk');
INSERT INTO bulk SELECT g, NULLIF(g / 2, 0), 'n' || g FROM generate_series(1, 15) g;
SELECT id, lft, rgt, depth FROM bulk ORDER BY lft;
COPY bulk (id, parent_id, name) FROM stdin;
16	1	copied
17	16	copied
\.
UPDATE bulk SET parent_id = 17 WHERE id IN (2, 3);
SELECT id, repeat('  ', depth) || id AS tree, lft, rgt, parent_id FROM bulk ORDER BY lft;
SELECT * FROM chronicle.tree_validate('bulk');

-- Scopes: several trees per table, each numbered from 1.
CREATE TABLE menu (id int PRIMARY KEY, parent_id int, site text NOT NULL, name text);
SELECT chronicle.tree_attach('menu', scope_column => 'site');
INSERT INTO menu VALUES (1, NULL, 'a', 'home'), (2, 1, 'a', 'news'), (3, NULL, 'b', 'home'),
                        (4, 3, 'b', 'shop'), (5, 3, 'b', 'cart');
SELECT site, id, name, lft, rgt, depth FROM menu ORDER BY site, lft;
-- A parent in another scope does not exist for this tree.
SELECT regress.error_of($$INSERT INTO menu VALUES (6, 1, 'b', 'x')$$) AS parent_in_other_scope;
SELECT regress.error_of($$SELECT chronicle.tree_move('menu', 4, 1)$$) AS target_in_other_scope;
SELECT regress.error_of($$INSERT INTO menu VALUES (6, NULL, NULL, 'x')$$) AS null_scope;
-- Changing the scope moves the whole subtree to the other tree.
UPDATE menu SET site = 'a', parent_id = 2 WHERE id = 3;
SELECT site, id, name, lft, rgt, depth FROM menu ORDER BY site, lft;
SELECT * FROM chronicle.tree_validate('menu');

-- Attach numbers existing rows of every scope, each tree from 1.
CREATE TABLE sites (id text PRIMARY KEY, parent_id text, site text NOT NULL);
INSERT INTO sites VALUES ('a', NULL, 'x'), ('b', 'a', 'x'), ('c', NULL, 'y'), ('e', 'c', 'y'), ('d', 'c', 'y');
SELECT chronicle.tree_attach('sites', scope_column => 'site');
SELECT site, id, lft, rgt, depth FROM sites ORDER BY site, lft;
-- validate names the scope of each problem.
ALTER TABLE sites DISABLE TRIGGER USER;
UPDATE sites SET depth = 5 WHERE id = 'e';
ALTER TABLE sites ENABLE TRIGGER USER;
SELECT * FROM chronicle.tree_validate('sites');
SELECT chronicle.tree_rebuild('sites') AS renumbered;

-- Ids of type uuid and text.
CREATE TABLE doc_uuid (id uuid PRIMARY KEY, parent_id uuid, title text);
SELECT chronicle.tree_attach('doc_uuid');
INSERT INTO doc_uuid VALUES ('00000000-0000-0000-0000-000000000001', NULL, 'root'),
    ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'child'),
    ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000002', 'grandchild');
SELECT title, lft, rgt, depth FROM doc_uuid ORDER BY lft;
SELECT title FROM chronicle.tree_ancestors(NULL::doc_uuid, '00000000-0000-0000-0000-000000000003'::uuid);
SELECT title FROM chronicle.tree_subtree(NULL::doc_uuid, '00000000-0000-0000-0000-000000000002');
SELECT chronicle.tree_move('doc_uuid', '00000000-0000-0000-0000-000000000003'::uuid,
                           '00000000-0000-0000-0000-000000000001'::uuid, 'first_child');
SELECT title, lft, rgt, depth FROM doc_uuid ORDER BY lft;

CREATE TABLE doc_text (path text PRIMARY KEY, up text, title text);
SELECT chronicle.tree_attach('doc_text', 'path', 'up');
INSERT INTO doc_text VALUES ('/', NULL, 'root'), ('/b', '/', 'b'), ('/a', '/', 'a'), ('/a/x', '/a', 'x');
SELECT path, lft, rgt, depth FROM doc_text ORDER BY lft;
SELECT chronicle.tree_insert('doc_text', '{"path": "/c", "title": "c"}', '/b'::text, 'before');
SELECT path FROM chronicle.tree_children(NULL::doc_text, '/');
SELECT chronicle.tree_delete('doc_text', '/a'::text) AS deleted;
SELECT path, lft, rgt, depth FROM doc_text ORDER BY lft;

-- A schema-qualified table with quoted odd names.
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Tree ""Table""" ("Node Id" bigint PRIMARY KEY, "Parent-Id" bigint, "Sort Key" int,
                                            "Scope;" int NOT NULL DEFAULT 0, label text);
SELECT chronicle.tree_attach('"Odd Schema"."Tree ""Table"""', 'Node Id', 'Parent-Id',
                             scope_column => 'Scope;', order_column => 'Sort Key');
INSERT INTO "Odd Schema"."Tree ""Table""" ("Node Id", "Parent-Id", "Sort Key", label)
VALUES (1, NULL, 0, 'root'), (2, 1, 20, 'b'), (3, 1, 10, 'a'), (4, 1, 30, 'c');
-- With an order column, siblings follow it (a plain INSERT places a row among them).
INSERT INTO "Odd Schema"."Tree ""Table""" ("Node Id", "Parent-Id", "Sort Key", label) VALUES (5, 1, 15, 'a2');
SELECT "Node Id", label, lft, rgt, depth FROM "Odd Schema"."Tree ""Table""" ORDER BY lft;
-- ... and an UPDATE of the parent too; explicit tree_move positions are honoured as given.
UPDATE "Odd Schema"."Tree ""Table""" SET "Parent-Id" = 2 WHERE "Node Id" = 4;
SELECT chronicle.tree_move('"Odd Schema"."Tree ""Table"""', 3::bigint, 4::bigint, 'after');
SELECT "Node Id", label, lft, rgt, depth, "Parent-Id" FROM "Odd Schema"."Tree ""Table""" ORDER BY lft;
SELECT label FROM chronicle.tree_ancestors(NULL::"Odd Schema"."Tree ""Table""", 4);
SELECT * FROM chronicle.tree_validate('"Odd Schema"."Tree ""Table"""');

-- Attach over existing rows: numbered from the parent column, siblings by id
-- (or by the order column).
CREATE TABLE existing (id int PRIMARY KEY, parent_id int, pos int, name text);
INSERT INTO existing VALUES (5, NULL, 1, 'r'), (3, 5, 2, 'x'), (9, 5, 1, 'y'), (1, 9, 1, 'z'), (2, NULL, 0, 's');
SELECT chronicle.tree_attach('existing');
SELECT id, name, lft, rgt, depth FROM existing ORDER BY lft;
SELECT chronicle.tree_detach('existing');
SELECT regress.error_of($$SELECT * FROM chronicle.tree_validate('existing')$$) AS detached;
UPDATE existing SET lft = NULL;  -- no longer managed
SELECT chronicle.tree_attach('existing', order_column => 'pos');
SELECT id, name, lft, rgt, depth FROM existing ORDER BY lft;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'existing'::regclass AND tgname LIKE 'chronicle_tree_%';

-- Rebuild after breaking the numbering on purpose (triggers off).
ALTER TABLE existing DISABLE TRIGGER USER;
UPDATE existing SET lft = lft * 3, depth = 7 WHERE id = 9;
UPDATE existing SET parent_id = 2 WHERE id = 3;
ALTER TABLE existing ENABLE TRIGGER USER;
SELECT * FROM chronicle.tree_validate('existing') ORDER BY node, problem;
SELECT chronicle.tree_rebuild('existing') AS renumbered;
SELECT id, name, lft, rgt, depth, parent_id FROM existing ORDER BY lft;
SELECT * FROM chronicle.tree_validate('existing');
SELECT chronicle.tree_rebuild('existing') AS renumbered;

-- An operation that finds a node without numbers reports TR003.
ALTER TABLE existing DISABLE TRIGGER USER;
INSERT INTO existing VALUES (20, 2, 1, 'unnumbered');
ALTER TABLE existing ENABLE TRIGGER USER;
SELECT regress.error_of($$SELECT chronicle.tree_move('existing', 20, 5)$$) AS corrupt;
SELECT * FROM chronicle.tree_validate('existing');
SELECT chronicle.tree_rebuild('existing') AS renumbered;
SELECT * FROM chronicle.tree_validate('existing');

-- Detach removes the triggers and the attachment; rows and columns stay.
SELECT chronicle.tree_detach('existing');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'existing'::regclass AND tgname LIKE 'chronicle_tree_%';
SELECT count(*) AS attachments FROM chronicle._tree_tables WHERE tbl = 'existing'::regclass;
SELECT regress.error_of($$SELECT chronicle.tree_detach('existing')$$) AS detached_twice;

-- A column of the attachment dropped (its trigger with it, CASCADE): writes
-- are TR004, and detach still works, so that the table can be attached again.
CREATE TABLE lost_parent (id int PRIMARY KEY, parent_id int, up int);
SELECT chronicle.tree_attach('lost_parent');
ALTER TABLE lost_parent DROP COLUMN parent_id CASCADE;
SELECT regress.error_of($$INSERT INTO lost_parent VALUES (1, NULL)$$) AS write_without_parent;
SELECT chronicle.tree_detach('lost_parent');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'lost_parent'::regclass AND tgname LIKE 'chronicle_tree_%';
SELECT count(*) AS attachments FROM chronicle._tree_tables WHERE tbl = 'lost_parent'::regclass;
SELECT chronicle.tree_attach('lost_parent', parent_column => 'up');
INSERT INTO lost_parent VALUES (1, NULL), (2, 1);
SELECT id, up, lft, rgt, depth FROM lost_parent ORDER BY lft;
DROP TABLE lost_parent;

-- The id column's type changed after attach (the parent column's cannot be:
-- a trigger names it): writes are TR004, never a crash.
CREATE TABLE retyped (id int PRIMARY KEY, parent_id int);
SELECT chronicle.tree_attach('retyped');
INSERT INTO retyped VALUES (1, NULL);
ALTER TABLE retyped ALTER COLUMN id TYPE text;
SELECT regress.error_of($$INSERT INTO retyped VALUES ('2', 1)$$) AS retyped_id;
SELECT chronicle.tree_detach('retyped');
DROP TABLE retyped;
-- A NULL id (its key and NOT NULL dropped after attach) names no node: 23502,
-- never a crash, whatever the statement.
CREATE TABLE null_ids (id text PRIMARY KEY, parent_id text);
SELECT chronicle.tree_attach('null_ids');
INSERT INTO null_ids VALUES ('a', NULL), ('b', 'a');
ALTER TABLE null_ids DROP CONSTRAINT null_ids_pkey, ALTER COLUMN id DROP NOT NULL;
SELECT regress.error_of($$INSERT INTO null_ids VALUES (NULL, NULL)$$) AS null_id;
SELECT regress.error_of($$INSERT INTO null_ids VALUES ('c', NULL), (NULL, 'a')$$) AS null_id_bulk;
SELECT regress.error_of($$UPDATE null_ids SET id = NULL, parent_id = NULL WHERE id = 'b'$$) AS null_id_move;
SELECT regress.error_of($$UPDATE null_ids SET id = NULL, parent_id = NULL$$) AS null_id_move_bulk;
SELECT id, parent_id, lft, rgt, depth FROM null_ids ORDER BY lft;
DROP TABLE null_ids;

-- Dropping an attached table removes its attachment.
SELECT chronicle.tree_attach('existing');
DROP TABLE existing;
SELECT count(*) AS stale_attachments FROM chronicle._tree_tables t
WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.tbl);
