-- tree_bulk_random: random multi-row INSERTs (whole new trees, trees that
-- join existing rows, errors: cycles, missing parents, duplicate ids), into
-- trees damaged the same way now and then (rows stored unnumbered, a gap in
-- the numbering, both under session_replication_role = replica) and with
-- random DELETEs, for every kind of tree table.  Each statement runs twice:
-- plainly, with the bulk-load node (prenumber.cpp), and inside a
-- data-modifying CTE, which the node never serves.  The two tables must
-- agree on every number after every statement, and both succeed or both
-- fail; the node must have saved writes.  setseed makes every run the same.
LOAD 'chronicle';
CREATE FUNCTION fuzz_one(cfg text, seed int, rounds int) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  r int; k int; base int := 0; vals text; i int; par text; scope text; bad bigint; ord text;
  scoped bool := cfg LIKE '%scope%'; ordered bool := cfg LIKE '%order%'; perroot bool := cfg LIKE '%per_root%';
  mode text; failed int := 0;
BEGIN
  PERFORM setseed(seed / 1000.0);
  EXECUTE 'SET LOCAL client_min_messages = warning'; EXECUTE 'DROP TABLE IF EXISTS fz, fz_ref';
  FOR tbl IN 1..2 LOOP
    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, parent_id int, site text, pos int)', CASE tbl WHEN 1 THEN 'fz' ELSE 'fz_ref' END);
    EXECUTE format('SELECT chronicle.tree_attach(%L, scope_column => %L, order_column => %L, numbering => %L)',
                   CASE tbl WHEN 1 THEN 'fz' ELSE 'fz_ref' END,
                   CASE WHEN scoped THEN 'site' END, CASE WHEN ordered THEN 'pos' END,
                   CASE WHEN perroot THEN 'per_root' ELSE 'per_scope' END);
  END LOOP;
  FOR r IN 1..rounds LOOP
    k := 2 + floor(random() * 8)::int;
    vals := '';
    scope := CASE WHEN scoped THEN (ARRAY['a','b','c'])[1 + floor(random()*3)::int] ELSE NULL END;
    mode := CASE WHEN random() < 0.05 THEN 'cycle' WHEN random() < 0.05 THEN 'dup'
                 WHEN random() < 0.05 THEN 'missing' ELSE '' END;
    FOR i IN 1..k LOOP
      -- parent: NULL, an earlier row of this statement, or (rarely) an existing row
      IF i = 1 OR random() < 0.25 THEN par := 'NULL';
      ELSIF random() < 0.1 AND base > 0 THEN par := (1 + floor(random() * base))::text;
      ELSE par := (base + 1 + floor(random() * (i - 1)))::text;
      END IF;
      -- now and then an error: rows 1 and 2 each other's parent, a parent
      -- that no row has, an id given twice
      IF mode = 'cycle' AND i <= 2 THEN par := (base + 3 - i)::text; END IF;
      IF mode = 'missing' AND i = k THEN par := (base + k + 1000)::text; END IF;
      ord := CASE WHEN random() < 0.2 THEN 'NULL' ELSE floor(random()*4)::text END;
      vals := vals || CASE WHEN i > 1 THEN ',' ELSE '' END ||
              format('(%s,%s,%L,%s)', CASE WHEN mode = 'dup' AND i = k THEN base + 1 ELSE base + i END, par, CASE WHEN scoped THEN coalesce(scope,'a') ELSE NULL END, ord);
    END LOOP;
    BEGIN
      EXECUTE 'INSERT INTO fz (id, parent_id, site, pos) VALUES ' || vals;
    EXCEPTION WHEN OTHERS THEN
      -- the reference must fail too
      BEGIN
        EXECUTE 'WITH s AS (INSERT INTO fz_ref (id, parent_id, site, pos) VALUES ' || vals || ' RETURNING 1) SELECT count(*) FROM s';
        RETURN format('round %s: hook failed (%s) but reference did not: %s', r, SQLERRM, vals);
      EXCEPTION WHEN OTHERS THEN
        failed := failed + 1; base := base + k; CONTINUE;
      END;
    END;
    EXECUTE 'WITH s AS (INSERT INTO fz_ref (id, parent_id, site, pos) VALUES ' || vals || ' RETURNING 1) SELECT count(*) FROM s';
    base := base + k;
    -- sometimes damage both the same way: unnumbered rows, or a gap
    IF random() < 0.1 THEN
      PERFORM set_config('session_replication_role', 'replica', true);
      EXECUTE format('INSERT INTO fz (id, parent_id, site, pos) VALUES (%s, NULL, %L, 1)', base + 1, CASE WHEN scoped THEN coalesce(scope,'a') END);
      EXECUTE format('INSERT INTO fz_ref (id, parent_id, site, pos) VALUES (%s, NULL, %L, 1)', base + 1, CASE WHEN scoped THEN coalesce(scope,'a') END);
      base := base + 1;
      IF random() < 0.5 THEN
        EXECUTE 'UPDATE fz SET lft = lft + 3, rgt = rgt + 3 WHERE lft > 4';
        EXECUTE 'UPDATE fz_ref SET lft = lft + 3, rgt = rgt + 3 WHERE lft > 4';
      END IF;
      PERFORM set_config('session_replication_role', 'origin', true);
    END IF;
    -- sometimes a random move or delete on both
    IF random() < 0.2 AND base > 3 THEN
      i := 1 + floor(random() * base)::int;
      BEGIN
        EXECUTE format('DELETE FROM fz WHERE id = %s', i);
        EXECUTE format('DELETE FROM fz_ref WHERE id = %s', i);
      EXCEPTION WHEN OTHERS THEN NULL; END;
    END IF;
    EXECUTE 'SELECT count(*) FROM fz x FULL JOIN fz_ref y USING (id) WHERE x.lft IS DISTINCT FROM y.lft OR x.rgt IS DISTINCT FROM y.rgt OR x.depth IS DISTINCT FROM y.depth'
       || CASE WHEN perroot THEN ' OR x.tree_root IS DISTINCT FROM y.tree_root' ELSE '' END INTO bad;
    IF bad > 0 THEN RETURN format('round %s: %s rows differ after %s', r, bad, vals); END IF;

  END LOOP;
  RETURN CASE WHEN pg_stat_get_xact_tuples_updated('fz'::regclass) < pg_stat_get_xact_tuples_updated('fz_ref'::regclass)
              THEN 'ok, fewer writes' ELSE 'ok, no fewer writes' END || format(', %s failed', failed);
END $f$;
SELECT cfg, s, fuzz_one(cfg, s, 30) FROM unnest(ARRAY['plain','scope','scope,order','order','per_root','per_root,order']) cfg, generate_series(1, 3) s;
DROP TABLE fz, fz_ref;
DROP FUNCTION fuzz_one(text, int, int);
