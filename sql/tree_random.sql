-- Randomized, seeded test of the nested sets: hundreds of mixed operations
-- through the functions and through plain SQL (single- and multi-row
-- statements, two scopes), and after every batch each row's lft, rgt, depth
-- and parent compared with a model kept independently in a plain table
-- (sibling order as exact numeric positions, numbering computed by a
-- recursive CTE).  Any difference raises; the summary lines must match.
\set VERBOSITY terse
SET client_min_messages = warning;

CREATE TABLE rt (id int PRIMARY KEY, parent_id int, scope int NOT NULL, name text);
SELECT chronicle.tree_attach('rt', scope_column => 'scope');

-- The model: parent, scope and position among siblings.
CREATE TABLE m (id int PRIMARY KEY, parent int, scope int, pos numeric);

-- The numbering the model implies: preorder index i, depth d, subtree size s
-- give lft = 2i - 1 - d and rgt = lft + 2s - 1.
CREATE FUNCTION model_numbers() RETURNS TABLE(id int, parent int, scope int, lft bigint, rgt bigint, depth int)
LANGUAGE sql AS $$
    WITH RECURSIVE walk AS (
        SELECT m.id, m.parent, m.scope, ARRAY[m.pos] AS path, 0 AS depth FROM m WHERE m.parent IS NULL
        UNION ALL
        SELECT c.id, c.parent, c.scope, w.path || c.pos, w.depth + 1 FROM m c JOIN walk w ON c.parent = w.id
    ), ranked AS (
        SELECT w.*, row_number() OVER (PARTITION BY w.scope ORDER BY w.path) AS i FROM walk w
    )
    SELECT r.id, r.parent, r.scope, 2 * r.i - 1 - r.depth,
           2 * r.i - 1 - r.depth + 2 * (SELECT count(*) FROM ranked x
                                        WHERE x.scope = r.scope
                                          AND x.path[1:array_length(r.path, 1)] = r.path) - 1,
           r.depth
    FROM ranked r
$$;

CREATE FUNCTION check_against_model(batch int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    n int;
BEGIN
    SELECT count(*) INTO n FROM rt FULL JOIN model_numbers() mm ON mm.id = rt.id
    WHERE rt.id IS NULL OR mm.id IS NULL
       OR (rt.parent_id, rt.scope, rt.lft, rt.rgt, rt.depth)
          IS DISTINCT FROM (mm.parent, mm.scope, mm.lft::int, mm.rgt::int, mm.depth);
    IF n > 0 THEN
        SELECT rt.id AS real_id, mm.id AS model_id, rt.parent_id, mm.parent, rt.lft, mm.lft AS mlft,
               rt.rgt, mm.rgt AS mrgt, rt.depth, mm.depth AS mdepth
          INTO bad
          FROM rt FULL JOIN model_numbers() mm ON mm.id = rt.id
         WHERE rt.id IS NULL OR mm.id IS NULL
            OR (rt.parent_id, rt.scope, rt.lft, rt.rgt, rt.depth)
               IS DISTINCT FROM (mm.parent, mm.scope, mm.lft::int, mm.rgt::int, mm.depth)
         LIMIT 1;
        RAISE EXCEPTION 'batch %: % rows differ from the model, first: %', batch, n, bad;
    END IF;
    SELECT count(*) INTO n FROM chronicle.tree_validate('rt');
    IF n > 0 THEN
        RAISE EXCEPTION 'batch %: tree_validate reports % problems', batch, n;
    END IF;
END $$;

-- Model helpers.
CREATE FUNCTION pick(p_scope int DEFAULT NULL) RETURNS int LANGUAGE sql AS $$
    SELECT id FROM m WHERE p_scope IS NULL OR scope = p_scope ORDER BY id
    OFFSET floor(random() * (SELECT count(*) FROM m WHERE p_scope IS NULL OR scope = p_scope))
    LIMIT 1
$$;
CREATE FUNCTION in_subtree(node int, root int) RETURNS boolean LANGUAGE sql AS $$
    WITH RECURSIVE up AS (SELECT node AS id UNION ALL SELECT m.parent FROM m JOIN up ON m.id = up.id WHERE m.parent IS NOT NULL)
    SELECT EXISTS (SELECT 1 FROM up WHERE id = root)
$$;
CREATE FUNCTION last_pos(p int, s int) RETURNS numeric LANGUAGE sql AS $$
    SELECT coalesce(max(pos), 0) + 1 FROM m WHERE parent IS NOT DISTINCT FROM p AND scope = s
$$;
-- Position of a node placed relative to a target (model of tree_move / tree_insert).
CREATE FUNCTION place(node int, target int, placement text, OUT new_parent int, OUT new_pos numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t m;
    other numeric;
BEGIN
    SELECT * INTO t FROM m WHERE id = target;
    IF placement = 'last_child' THEN
        new_parent := target;
        SELECT coalesce(max(pos), 0) + 1 INTO new_pos FROM m WHERE parent = target AND id <> node;
    ELSIF placement = 'first_child' THEN
        new_parent := target;
        SELECT coalesce(min(pos), 2) - 1 INTO new_pos FROM m WHERE parent = target AND id <> node;
    ELSIF placement = 'before' THEN
        new_parent := t.parent;
        SELECT max(pos) INTO other FROM m
         WHERE parent IS NOT DISTINCT FROM t.parent AND scope = t.scope AND pos < t.pos AND id <> node;
        new_pos := CASE WHEN other IS NULL THEN t.pos - 1 ELSE (other + t.pos) / 2 END;
    ELSE
        new_parent := t.parent;
        SELECT min(pos) INTO other FROM m
         WHERE parent IS NOT DISTINCT FROM t.parent AND scope = t.scope AND pos > t.pos AND id <> node;
        new_pos := CASE WHEN other IS NULL THEN t.pos + 1 ELSE (other + t.pos) / 2 END;
    END IF;
END $$;
CREATE FUNCTION model_delete_subtree(node int) RETURNS void LANGUAGE sql AS $$
    WITH RECURSIVE d AS (SELECT node AS id UNION ALL SELECT m.id FROM m JOIN d ON m.parent = d.id)
    DELETE FROM m WHERE id IN (SELECT id FROM d)
$$;

CREATE TABLE tally (op text PRIMARY KEY, done int DEFAULT 0, refused int DEFAULT 0);
INSERT INTO tally (op) VALUES ('insert'), ('insert_multi'), ('tree_insert'), ('tree_move'),
    ('update_parent'), ('update_multi'), ('delete'), ('tree_delete'), ('update_scope');

CREATE FUNCTION run_random(batches int, per_batch int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    next_id int := 1;
    kind int;
    a int; b int; c int; s int;
    placement text;
    np int; npos numeric;
    code text;
    kids int;
    placements text[] := ARRAY['first_child', 'last_child', 'before', 'after'];
BEGIN
    FOR batch IN 1..batches LOOP
        FOR step IN 1..per_batch LOOP
            kind := CASE WHEN (SELECT count(*) FROM m) < 8 THEN 0 ELSE floor(random() * 11)::int END;
            code := NULL;
            s := 1 + floor(random() * 2)::int;
            IF NOT EXISTS (SELECT 1 FROM m WHERE scope = s) THEN s := 3 - s; END IF;
            BEGIN
                IF kind IN (0, 1) THEN
                    -- plain single-row INSERT: last child of a random parent (or a new root)
                    a := CASE WHEN random() < 0.15 THEN NULL ELSE pick(s) END;
                    IF a IS NOT NULL THEN s := (SELECT scope FROM m WHERE id = a); END IF;
                    INSERT INTO rt VALUES (next_id, a, s, 'n' || next_id);
                    INSERT INTO m VALUES (next_id, a, s, last_pos(a, s));
                    next_id := next_id + 1;
                    UPDATE tally SET done = done + 1 WHERE tally.op = 'insert';
                ELSIF kind = 2 THEN
                    -- multi-row INSERT: a small subtree under a random parent, statement order
                    a := pick(s);
                    IF a IS NOT NULL THEN s := (SELECT scope FROM m WHERE id = a); END IF;
                    INSERT INTO rt VALUES (next_id, a, s, 'x'), (next_id + 1, next_id, s, 'x'),
                                          (next_id + 2, a, s, 'x'), (next_id + 3, next_id, s, 'x');
                    INSERT INTO m VALUES (next_id, a, s, last_pos(a, s));
                    INSERT INTO m VALUES (next_id + 1, next_id, s, 1);
                    INSERT INTO m VALUES (next_id + 2, a, s, last_pos(a, s));
                    INSERT INTO m VALUES (next_id + 3, next_id, s, 2);
                    next_id := next_id + 4;
                    UPDATE tally SET done = done + 1 WHERE tally.op = 'insert_multi';
                ELSIF kind = 3 THEN
                    -- tree_insert at a random placement
                    b := pick(s);
                    s := (SELECT scope FROM m WHERE id = b);
                    placement := placements[1 + floor(random() * 4)::int];
                    PERFORM chronicle.tree_insert('rt', jsonb_build_object('id', next_id, 'name', 'f'), b, placement);
                    SELECT * INTO np, npos FROM place(next_id, b, placement);
                    INSERT INTO m VALUES (next_id, np, s, npos);
                    next_id := next_id + 1;
                    UPDATE tally SET done = done + 1 WHERE tally.op = 'tree_insert';
                ELSIF kind IN (4, 5) THEN
                    -- tree_move within a scope (into its own subtree must be TR001)
                    a := pick(s);
                    s := (SELECT scope FROM m WHERE id = a);
                    b := CASE WHEN random() < 0.1 THEN NULL ELSE pick(s) END;
                    placement := placements[1 + floor(random() * 4)::int];
                    IF b IS NOT NULL AND in_subtree(b, a) THEN
                        BEGIN
                            PERFORM chronicle.tree_move('rt', a, b, placement);
                            RAISE EXCEPTION 'move of % to % % should fail', a, placement, b;
                        EXCEPTION WHEN SQLSTATE 'TR001' THEN
                            UPDATE tally SET refused = refused + 1 WHERE tally.op = 'tree_move';
                        END;
                    ELSE
                        PERFORM chronicle.tree_move('rt', a, b, placement);
                        IF b IS NULL THEN
                            UPDATE m SET parent = NULL, pos = (SELECT coalesce(max(pos), 0) + 1 FROM m WHERE parent IS NULL AND scope = s) WHERE id = a;
                        ELSE
                            SELECT * INTO np, npos FROM place(a, b, placement);
                            UPDATE m SET parent = np, pos = npos WHERE id = a;
                        END IF;
                        UPDATE tally SET done = done + 1 WHERE tally.op = 'tree_move';
                    END IF;
                ELSIF kind = 6 THEN
                    -- plain UPDATE of the parent: last child of the new parent; cycles are TR001
                    a := pick(s);
                    s := (SELECT scope FROM m WHERE id = a);
                    b := CASE WHEN random() < 0.1 THEN NULL ELSE pick(s) END;
                    IF b IS NOT NULL AND in_subtree(b, a) THEN
                        BEGIN
                            UPDATE rt SET parent_id = b WHERE id = a;
                            RAISE EXCEPTION 'update of % under % should fail', a, b;
                        EXCEPTION WHEN SQLSTATE 'TR001' THEN
                            UPDATE tally SET refused = refused + 1 WHERE tally.op = 'update_parent';
                        END;
                    ELSE
                        UPDATE rt SET parent_id = b WHERE id = a;
                        IF (SELECT parent FROM m WHERE id = a) IS DISTINCT FROM b THEN
                            UPDATE m SET parent = b, pos = last_pos(b, s) WHERE id = a;
                        END IF;
                        UPDATE tally SET done = done + 1 WHERE tally.op = 'update_parent';
                    END IF;
                ELSIF kind = 7 THEN
                    -- multi-row UPDATE: two nodes to two different parents outside both subtrees
                    a := pick(s);
                    s := (SELECT scope FROM m WHERE id = a);
                    b := pick(s);
                    c := pick(s);
                    np := pick(s);
                    IF a <> b AND np <> c AND NOT in_subtree(c, a) AND NOT in_subtree(c, b)
                       AND NOT in_subtree(np, a) AND NOT in_subtree(np, b) THEN
                        UPDATE rt SET parent_id = CASE WHEN id = a THEN c ELSE np END WHERE id IN (a, b);
                        IF (SELECT parent FROM m WHERE id = a) IS DISTINCT FROM c THEN
                            UPDATE m SET parent = c, pos = last_pos(c, s) WHERE id = a;
                        END IF;
                        IF (SELECT parent FROM m WHERE id = b) IS DISTINCT FROM np THEN
                            UPDATE m SET parent = np, pos = last_pos(np, s) WHERE id = b;
                        END IF;
                        UPDATE tally SET done = done + 1 WHERE tally.op = 'update_multi';
                    END IF;
                ELSIF kind = 8 THEN
                    -- plain DELETE (on_delete cascade), one or two rows
                    a := pick(s);
                    b := CASE WHEN random() < 0.5 THEN a ELSE pick(s) END;
                    DELETE FROM rt WHERE id IN (a, b);
                    PERFORM model_delete_subtree(a);
                    PERFORM model_delete_subtree(b);
                    UPDATE tally SET done = done + 1 WHERE tally.op = 'delete';
                ELSIF kind = 9 THEN
                    -- tree_delete by mode
                    a := pick(s);
                    placement := (ARRAY['cascade', 'promote', 'restrict'])[1 + floor(random() * 3)::int];
                    SELECT count(*) INTO kids FROM m WHERE parent = a;
                    IF placement = 'restrict' AND kids > 0 THEN
                        BEGIN
                            PERFORM chronicle.tree_delete('rt', a, 'restrict');
                            RAISE EXCEPTION 'restrict delete of % should fail', a;
                        EXCEPTION WHEN SQLSTATE '23001' THEN
                            UPDATE tally SET refused = refused + 1 WHERE tally.op = 'tree_delete';
                        END;
                    ELSE
                        PERFORM chronicle.tree_delete('rt', a, placement);
                        IF placement = 'promote' THEN
                            -- children take the node's place, in order
                            UPDATE m SET parent = (SELECT parent FROM m WHERE id = a),
                                   pos = (SELECT pos FROM m WHERE id = a)
                                         + (SELECT count(*) FROM m x WHERE x.parent = a AND x.pos <= m.pos)
                                           * (coalesce((SELECT min(y.pos) FROM m y, m z
                                                         WHERE z.id = a AND y.parent IS NOT DISTINCT FROM z.parent
                                                           AND y.scope = z.scope AND y.pos > z.pos),
                                                       (SELECT pos FROM m WHERE id = a) + 1)
                                              - (SELECT pos FROM m WHERE id = a)) / (kids + 1)
                             WHERE parent = a;
                            DELETE FROM m WHERE id = a;
                        ELSE
                            PERFORM model_delete_subtree(a);
                        END IF;
                        UPDATE tally SET done = done + 1 WHERE tally.op = 'tree_delete';
                    END IF;
                ELSE
                    -- plain UPDATE of the scope (and parent): the subtree moves to the other tree
                    a := pick(s);
                    s := (SELECT scope FROM m WHERE id = a);
                    b := pick(3 - s);
                    IF random() < 0.3 THEN b := NULL; END IF;
                    UPDATE rt SET scope = 3 - s, parent_id = b WHERE id = a;
                    WITH RECURSIVE d AS (SELECT a AS id UNION ALL SELECT m.id FROM m JOIN d ON m.parent = d.id)
                    UPDATE m SET scope = 3 - s WHERE id IN (SELECT id FROM d);
                    UPDATE m SET parent = b, pos = (SELECT coalesce(max(x.pos), 0) + 1 FROM m x
                                                     WHERE x.parent IS NOT DISTINCT FROM b AND x.scope = 3 - s AND x.id <> a)
                     WHERE id = a;
                    UPDATE tally SET done = done + 1 WHERE tally.op = 'update_scope';
                END IF;
            END;
        END LOOP;
        PERFORM check_against_model(batch);
    END LOOP;
END $$;

SELECT setseed(0.4242);
SELECT run_random(40, 15);

-- What ran (deterministic for the seed); every batch matched the model.
SELECT op, done, refused FROM tally ORDER BY op;
SELECT count(*) AS rows_left, count(DISTINCT scope) AS trees FROM rt;
SELECT count(*) AS problems FROM chronicle.tree_validate('rt');
