-- A rebuild repairs, it does not reorder (issue 15): after a long seeded
-- random mix of operations through the functions and plain SQL (single- and
-- multi-row INSERT, UPDATE of the parent and of the order column, DELETE;
-- tree_insert, tree_move and tree_delete at every placement and mode),
-- tree_rebuild renumbers no row and tree_validate reports nothing, on tables
-- with and without an order column, numbered per scope and per root.
\set VERBOSITY terse
CREATE SCHEMA tree_rebuild_noop;
SET search_path = tree_rebuild_noop, public;

-- A random node (small: one whose subtree has at most 4 nodes, so that deletes
-- leave a tree worth testing).
CREATE FUNCTION pick(tbl regclass, small boolean DEFAULT false) RETURNS int LANGUAGE plpgsql AS $$
DECLARE r int; n int;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s WHERE NOT $1 OR rgt - lft < 8', tbl) INTO n USING small;
    IF n = 0 THEN RETURN NULL; END IF;
    EXECUTE format('SELECT id FROM %s WHERE NOT $2 OR rgt - lft < 8 ORDER BY id OFFSET $1 LIMIT 1', tbl)
        INTO r USING floor(random() * n)::int, small;
    RETURN r;
END $$;

-- One random operation; returns its kind, or 'refused' when it raised a
-- documented tree error (a move into its own subtree, a missing node).
CREATE FUNCTION random_op(tbl regclass, INOUT next_id int, OUT kind text) LANGUAGE plpgsql AS $$
DECLARE
    op int := floor(random() * 12)::int;
    a int := pick(tbl);
    b int := pick(tbl);
    c int := pick(tbl);
    d int := pick(tbl, true);
    placements text[] := ARRAY['first_child', 'last_child', 'before', 'after'];
    pl text := placements[1 + floor(random() * 4)::int];
    o int := floor(random() * 20)::int;
BEGIN
    kind := CASE op WHEN 0 THEN 'insert' WHEN 1 THEN 'insert_many' WHEN 2 THEN 'tree_insert'
                    WHEN 3 THEN 'update' WHEN 4 THEN 'update_many' WHEN 5 THEN 'tree_move'
                    WHEN 6 THEN 'delete' WHEN 7 THEN 'tree_delete' WHEN 8 THEN 'update_order'
                    WHEN 9 THEN 'delete_many' WHEN 10 THEN 'update_root' ELSE 'insert_root' END;
    BEGIN
        CASE op
        WHEN 0 THEN
            EXECUTE format('INSERT INTO %s VALUES ($1, $2, $3)', tbl) USING next_id, a, o;
            next_id := next_id + 1;
        WHEN 1 THEN
            EXECUTE format('INSERT INTO %s VALUES ($1, $2, $3), ($4, $1, $5), ($6, $2, $7), ($8, $4, $3)', tbl)
                USING next_id, a, o, next_id + 1, o + 1, next_id + 2, 20 - o, next_id + 3;
            next_id := next_id + 4;
        WHEN 2 THEN
            PERFORM chronicle.tree_insert(tbl, jsonb_build_object('id', next_id, 'ord', o), a, pl);
            next_id := next_id + 1;
        WHEN 3 THEN
            EXECUTE format('UPDATE %s SET parent_id = $1 WHERE id = $2', tbl) USING b, a;
        WHEN 4 THEN
            EXECUTE format('UPDATE %s SET parent_id = $1 WHERE id IN ($2, $3)', tbl) USING b, a, c;
        WHEN 5 THEN
            PERFORM chronicle.tree_move(tbl, a, CASE WHEN random() < 0.1 THEN NULL ELSE b END, pl);
        WHEN 6 THEN
            EXECUTE format('DELETE FROM %s WHERE id = $1', tbl) USING d;
        WHEN 7 THEN
            PERFORM chronicle.tree_delete(tbl, CASE WHEN random() < 0.5 THEN a ELSE d END,
                                          CASE WHEN random() < 0.5 THEN 'promote' ELSE 'cascade' END);
        WHEN 8 THEN
            EXECUTE format('UPDATE %s SET ord = $1 WHERE id IN ($2, $3)', tbl) USING o, a, b;
        WHEN 9 THEN
            EXECUTE format('DELETE FROM %s WHERE id IN ($1, $2)', tbl) USING d, pick(tbl, true);
        WHEN 10 THEN
            EXECUTE format('UPDATE %s SET parent_id = NULL WHERE id = $1', tbl) USING a;
        ELSE
            EXECUTE format('INSERT INTO %s VALUES ($1, NULL, $2)', tbl) USING next_id, o;
            next_id := next_id + 1;
        END CASE;
    EXCEPTION WHEN sqlstate 'TR001' OR sqlstate 'TR002' OR null_value_not_allowed THEN
        kind := 'refused';
    END;
END $$;

CREATE FUNCTION random_mix(tbl regclass, ops int, seed float8)
RETURNS TABLE(operations int, refused int, final_rows bigint, renumbered bigint, problems bigint)
LANGUAGE plpgsql AS $$
DECLARE
    next_id int := 1000;
    kind text;
    i int;
BEGIN
    PERFORM setseed(seed);
    EXECUTE format('INSERT INTO %s SELECT g, CASE WHEN g > 1 THEN (g + 2) / 4 END, g %% 7 FROM generate_series(1, 200) g', tbl);
    operations := ops;
    refused := 0;
    FOR i IN 1..ops LOOP
        SELECT r.next_id, r.kind INTO next_id, kind FROM random_op(tbl, next_id) r;
        IF kind = 'refused' THEN refused := refused + 1; END IF;
        IF i % 100 = 0 THEN
            -- Along the way too: sound numbering, nothing a rebuild would change.
            EXECUTE format('SELECT count(*) FROM chronicle.tree_validate(%L)', tbl) INTO problems;
            IF problems > 0 THEN RAISE EXCEPTION '% after % operations: % problems', tbl, i, problems; END IF;
            renumbered := chronicle.tree_rebuild(tbl);
            IF renumbered > 0 THEN RAISE EXCEPTION '% after % operations: rebuild renumbered % rows', tbl, i, renumbered; END IF;
        END IF;
    END LOOP;
    EXECUTE format('SELECT count(*) FROM %s', tbl) INTO final_rows;
    renumbered := chronicle.tree_rebuild(tbl);
    EXECUTE format('SELECT count(*) FROM chronicle.tree_validate(%L)', tbl) INTO problems;
    RETURN NEXT;
END $$;

CREATE TABLE plain (id int PRIMARY KEY, parent_id int, ord int);
SELECT chronicle.tree_attach('plain');
CREATE TABLE ordered (id int PRIMARY KEY, parent_id int, ord int);
SELECT chronicle.tree_attach('ordered', order_column => 'ord');
CREATE TABLE promoted (id int PRIMARY KEY, parent_id int, ord int);
SELECT chronicle.tree_attach('promoted', order_column => 'ord', on_delete => 'promote');
CREATE TABLE roots (id int PRIMARY KEY, parent_id int, ord int);
SELECT chronicle.tree_attach('roots', numbering => 'per_root');
CREATE TABLE roots_ordered (id int PRIMARY KEY, parent_id int, ord int);
SELECT chronicle.tree_attach('roots_ordered', order_column => 'ord', numbering => 'per_root');

SELECT 'plain' AS tbl, * FROM random_mix('plain', 300, 0.15);
SELECT 'ordered' AS tbl, * FROM random_mix('ordered', 300, 0.25);
SELECT 'promoted' AS tbl, * FROM random_mix('promoted', 300, 0.35);
SELECT 'roots' AS tbl, * FROM random_mix('roots', 300, 0.45);
SELECT 'roots_ordered' AS tbl, * FROM random_mix('roots_ordered', 300, 0.55);
-- The per-root tables really are forests numbered from 1 per tree.
SELECT count(DISTINCT tree_root) > 1 AS several_trees, min(lft) AS min_lft,
       bool_and(lft = 1) FILTER (WHERE parent_id IS NULL) AS roots_start_at_1
  FROM roots;

RESET search_path;
DROP SCHEMA tree_rebuild_noop CASCADE;
