-- The seed's category tree (docs/reference/tree.md): a nested set kept by plain SQL.
\set QUIET on
\pset footer off
CREATE TABLE nested_set (id int PRIMARY KEY, parent_id int REFERENCES nested_set, name text);
\echo 'Attach the nested set to an ordinary table, then fill it with plain INSERTs:'
SELECT chronicle.tree_attach('nested_set') \gset
INSERT INTO nested_set VALUES (1,NULL,'Home'),(2,1,'About'),(3,1,'Products'),
                              (4,3,'Laptops'),(5,3,'Smartphones'),(6,1,'Contact');
\echo 'The tree (expect Home 1..12, About 2..3, Products 4..9, Laptops 5..6, Smartphones 7..8, Contact 10..11):'
SELECT id, repeat('  ', depth) || name AS name, lft, rgt, depth FROM nested_set ORDER BY lft;
\echo 'The Products subtree, by lft range:'
SELECT name FROM nested_set WHERE lft BETWEEN 4 AND 9 ORDER BY lft;
\echo 'Ancestors of Smartphones:'
SELECT name FROM chronicle.tree_ancestors(NULL::nested_set, 5);
\echo 'Move Laptops under About with a plain UPDATE:'
UPDATE nested_set SET parent_id = 2 WHERE id = 4;
SELECT id, repeat('  ', depth) || name AS name, lft, rgt FROM nested_set ORDER BY lft;
\echo 'Problems found by tree_validate (expect 0):'
SELECT count(*) AS problems FROM chronicle.tree_validate('nested_set');
