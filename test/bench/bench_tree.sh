#!/usr/bin/env bash
# Nested sets (docs/reference/tree.md) on a 100,000-node tree, against the usual
# alternatives measured in the same run:
#   subtree     chronicle.tree_subtree and the plain lft range query vs a
#               recursive CTE on the parent column (target >= 10x faster) and vs
#               contrib ltree <@ with a GiST index (target >= 0.8x ltree's
#               speed, i.e. time <= 1.25x); the subtree size (informational)
#   ancestors   chronicle.tree_ancestors vs ltree @> (same target)
#   bulk load   40,000 rows in one INSERT ... SELECT into an attached table vs a
#               plain INSERT into an unattached one (<= 4x), and 40k vs 20k (<= 2.6x)
#   bulk load   the same 40,000 rows into an ltree table with a GiST index
#               (target <= 1.0x), and into a per_root table (reported)
#   forest      insert a leaf and cascade-delete a subtree in a forest of 190
#               trees: per_root vs django-mptt's raw SQL (target <= 1.0x), and
#               one sequence vs per_root (reported)
#   latency     insert a leaf / move a subtree at 10k and 100k nodes (reported)
# The tree: node 1 is the root, node i > 1 has parent (i + 6) / 8 (8 children
# per node, depth 6 at 100k).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql <<'SQL'
CREATE EXTENSION ltree;
CREATE FUNCTION build(n int, attached boolean, name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, parent_id int, name text)', name);
    IF attached THEN PERFORM chronicle.tree_attach(name::regclass); END IF;
    EXECUTE format('INSERT INTO %I SELECT g, CASE WHEN g > 1 THEN (g + 6) / 8 END, ''n'' || g
                    FROM generate_series(1, %s) g', name, n);
    EXECUTE format('ANALYZE %I', name);
END $$;
SELECT build(100000, true, 'ns');
SELECT build(10000, true, 'ns10k');
SELECT build(100000, false, 'adj');
SELECT build(10000, false, 'adj10k');
CREATE INDEX ON adj (parent_id);
CREATE INDEX ON adj10k (parent_id);
-- ltree paths from the same tree.
CREATE TABLE lt (id int PRIMARY KEY, path ltree NOT NULL, name text);
INSERT INTO lt
WITH RECURSIVE p AS (
    SELECT id, id::text::ltree AS path, name FROM adj WHERE parent_id IS NULL
    UNION ALL
    SELECT a.id, p.path || a.id::text, a.name FROM adj a JOIN p ON a.parent_id = p.id
) SELECT * FROM p;
CREATE INDEX ON lt USING gist (path);
ANALYZE lt;
SELECT count(*) AS problems FROM chronicle.tree_validate('ns');
SQL
# Steady state for every contender: no dead rows from the loads, fresh statistics.
settle ns ns10k adj adj10k lt

# Subtree of node 10 (depth 2, 4,681 nodes) and ancestors of node 60000 (depth 5).
# The recursive CTE runs on the same rows with an index on parent_id (adj) and,
# as django-mptt users often have it, without one (adj_noidx).
sql -c "CREATE TABLE adj_noidx AS SELECT * FROM adj; ALTER TABLE adj_noidx ADD PRIMARY KEY (id); ANALYZE adj_noidx" >/dev/null
# Two ways to read a subtree from the nested set: chronicle.tree_subtree (a C
# set-returning function, materialised by the function scan), and the plain
# nested-set query users write (the README's category tree: one lft range, in lft
# order), here joined to the node so it starts from an id like the CTE does.
# Every contender returns the same rows; the medians of the contenders are
# measured in alternating rounds (3 rounds), and the spread of the rounds is printed.
# The fifth contender is the seed's query itself, for an application that
# already holds the node's lft and rgt (no look-up of the node).
subtree_round() {
    local id=$1 n=$2 bounds
    bounds=$(sql -t -A -c "SELECT lft || ' AND ' || rgt FROM ns WHERE id = $id")
    printf '%s %s %s %s %s\n' \
        "$(median_ms "SELECT * FROM chronicle.tree_subtree(NULL::ns, $id)" "$n")" \
        "$(median_ms "SELECT t.* FROM ns n JOIN ns t ON t.lft BETWEEN n.lft AND n.rgt WHERE n.id = $id ORDER BY t.lft" "$n")" \
        "$(median_ms "WITH RECURSIVE s AS (SELECT * FROM adj WHERE id = $id UNION ALL SELECT a.* FROM adj a JOIN s ON a.parent_id = s.id) SELECT * FROM s" "$n")" \
        "$(median_ms "SELECT * FROM lt WHERE path <@ (SELECT path FROM lt WHERE id = $id)" "$n")" \
        "$(median_ms "SELECT * FROM ns WHERE lft BETWEEN $bounds ORDER BY lft" "$n")"
}
# mid COLUMN: the median of one column of the rounds; spread COLUMN: min-max.
mid() { awk -v c="$1" '{print $c}' | sort -n | sed -n 2p; }
spread() { awk -v c="$1" '{print $c}' | sort -n | awk '{v[NR]=$1} END {printf "%s-%s", v[1], v[NR]}'; }
for id_rows in 10:4,681 82:585; do
    id=${id_rows%%:*} rows=${id_rows#*:}
    rounds=$(for r in 1 2 3; do subtree_round "$id" 15; done)
    sub=$(mid 1 <<<"$rounds") range=$(mid 2 <<<"$rounds") cte=$(mid 3 <<<"$rounds") ltsub=$(mid 4 <<<"$rounds")
    known=$(mid 5 <<<"$rounds")
    echo "   rounds (tree_subtree, range from id, CTE, ltree, range with known bounds; ms): $(tr '\n' ';' <<<"$rounds")"
    report "subtree ($rows rows) tree_subtree vs recursive CTE, parent indexed" "$sub" "$cte" ms "<=0.1" \
        "rounds $(spread 1 <<<"$rounds") vs $(spread 3 <<<"$rounds")"
    report "subtree ($rows rows) lft range query vs recursive CTE, parent indexed" "$range" "$cte" ms "<=0.1" \
        "rounds $(spread 2 <<<"$rounds") vs $(spread 3 <<<"$rounds")"
    report "subtree ($rows rows) lft range, bounds known, vs recursive CTE" "$known" "$cte" ms "<=0.1" \
        "rounds $(spread 5 <<<"$rounds") vs $(spread 3 <<<"$rounds")"
    report "subtree ($rows rows) tree_subtree vs ltree <@ GiST" "$sub" "$ltsub" ms "<=1.25"
    report "subtree ($rows rows) lft range query vs ltree <@ GiST" "$range" "$ltsub" ms "<=1.25"
done
# The floor for any method that returns rows: the same number of rows (and
# columns) read by the cheapest access there is, one contiguous range of the
# primary key (ids 1..4,681, all on adjacent heap pages), in this harness.
floor=$(median_ms "SELECT * FROM adj WHERE id BETWEEN 1 AND 4681 ORDER BY id" 15)
cte=$(median_ms "WITH RECURSIVE s AS (SELECT * FROM adj WHERE id = 10 UNION ALL SELECT a.* FROM adj a JOIN s ON a.parent_id = s.id) SELECT * FROM s" 15)
report "floor: 4,681 rows by primary-key range vs recursive CTE" "$floor" "$cte" ms "" "no row-returning method beats this"
cte_noidx=$(median_ms "WITH RECURSIVE s AS (SELECT * FROM adj_noidx WHERE id = 10 UNION ALL SELECT a.* FROM adj_noidx a JOIN s ON a.parent_id = s.id) SELECT * FROM s" 5)
sub=$(median_ms "SELECT * FROM chronicle.tree_subtree(NULL::ns, 10)" 15)
report "subtree (4,681 rows) tree_subtree vs recursive CTE, no parent index" "$sub" "$cte_noidx" ms "<=0.1"
# What only the nested set answers without reading the subtree: its size.
size=$(median_ms "SELECT (rgt - lft - 1) / 2 FROM ns WHERE id = 10" 25)
size_cte=$(median_ms "WITH RECURSIVE s AS (SELECT id FROM adj WHERE id = 10 UNION ALL SELECT a.id FROM adj a JOIN s ON a.parent_id = s.id) SELECT count(*) - 1 FROM s" 15)
report "subtree size (4,680 descendants) vs recursive CTE count" "$size" "$size_cte" ms ""

anc=$(median_ms "SELECT * FROM chronicle.tree_ancestors(NULL::ns, 60000)" 25)
ltanc=$(median_ms "SELECT * FROM lt WHERE path @> (SELECT path FROM lt WHERE id = 60000) AND id <> 60000" 25)
report "ancestors (depth 5) vs ltree @> GiST" "$anc" "$ltanc" ms "<=1.25"

# Bulk loads: the contenders alternate, 7 rounds, medians (the shared machine
# drifts; alternating keeps the ratio fair).  The table is emptied before each run.
sql <<'SQL'
CREATE TABLE load_ns (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('load_ns');
CREATE TABLE load_plain (id int PRIMARY KEY, parent_id int, name text);
CREATE TABLE load_roots (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('load_roots', numbering => 'per_root');
-- The ltree contender: the same 40,000 rows with their paths (computed once,
-- beforehand: the ltree load only copies them in and builds its GiST index).
CREATE TABLE load_lt (id int PRIMARY KEY, path ltree NOT NULL, name text);
CREATE INDEX ON load_lt USING gist (path);
CREATE TABLE load_lt_src AS
WITH RECURSIVE p AS (
    SELECT 1 AS id, '1'::ltree AS path
    UNION ALL
    SELECT g.id, p.path || g.id::text FROM p JOIN LATERAL (
        SELECT c AS id FROM generate_series(p.id * 8 - 6, p.id * 8 + 1) c WHERE c BETWEEN 2 AND 40000) g ON true
) SELECT id, path, 'n' || id AS name FROM p;
CREATE FUNCTION load_lt_once() RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    TRUNCATE load_lt;
    t0 := clock_timestamp();
    INSERT INTO load_lt SELECT * FROM load_lt_src;
    RETURN (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
END $$;
CREATE FUNCTION load_once(tbl text, n int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    EXECUTE format('TRUNCATE %I', tbl);
    t0 := clock_timestamp();
    EXECUTE format('INSERT INTO %I SELECT g, CASE WHEN g > 1 THEN (g + 6) / 8 END, ''n'' || g
                    FROM generate_series(1, %s) g', tbl, n);
    RETURN (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
END $$;
CREATE TABLE load_times (what text, ms numeric);
CREATE PROCEDURE load_rounds() LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..7 LOOP
        INSERT INTO load_times VALUES ('plain40', load_once('load_plain', 40000));
        INSERT INTO load_times VALUES ('ns40', load_once('load_ns', 40000));
        INSERT INTO load_times VALUES ('ns20', load_once('load_ns', 20000));
        INSERT INTO load_times VALUES ('lt40', load_lt_once());
        INSERT INTO load_times VALUES ('roots40', load_once('load_roots', 40000));
        COMMIT;
    END LOOP;
END $$;
CALL load_rounds();
SQL
median() {
    sql -t -A -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) FROM load_times WHERE what = '$1'"
}
range_of() {
    sql -t -A -c "SELECT round(min(ms), 1) || '-' || round(max(ms), 1) FROM load_times WHERE what = '$1'"
}
load40=$(median ns40)
plain40=$(median plain40)
load20=$(median ns20)
report "bulk load 40k, attached vs plain INSERT" "$load40" "$plain40" ms "<=4" \
    "7 rounds $(range_of ns40) vs $(range_of plain40)"
report "bulk load 40k vs 20k (attached)" "$load40" "$load20" ms "<=2.6" "20k $(range_of ns20)"
report "bulk load 40k, attached vs ltree + GiST" "$load40" "$(median lt40)" ms "<=1.0" \
    "7 rounds $(range_of ns40) vs $(range_of lt40); ltree paths precomputed"
report "bulk load 40k, per_root vs plain INSERT" "$(median roots40)" "$plain40" ms "" "7 rounds $(range_of roots40)"
sql -c "SELECT load_once('load_ns', 40000)" >/dev/null
sql -c "SELECT count(*) AS problems FROM chronicle.tree_validate('load_ns')" -t -A | sed 's/^/   load_ns problems after bulk load: /'

# Big forests (issue 15): 190 root trees of 500 nodes (95,000 rows), the same
# rows three ways: numbered per root (numbering => 'per_root'), in one
# sequence (the default), and as django-mptt stores them (tree_id, lft, rgt,
# level; its indexes), written by the raw statements django-mptt issues:
#   insert a leaf   _create_space: UPDATE ... SET lft = CASE WHEN lft > t THEN
#                   lft + 2 ..., rgt = CASE ... WHERE tree_id = %s AND (lft > t
#                   OR rgt > t), then the INSERT with the parent's numbers
#   cascade delete  the DELETE of the subtree's range, then _close_gap:
#                   _manage_space(-width, rgt, tree_id)
# The node written to is a child of root 95 (the middle of the forest).
sql <<'SQL'
-- Tree r holds ids r * 1000 + i (i < 500); node i > 0 hangs from node (i - 1) / 8.
CREATE TABLE fr_src AS
SELECT r * 1000 + i AS id, CASE WHEN i > 0 THEN r * 1000 + (i - 1) / 8 END AS parent_id, 'n' || i AS name
  FROM generate_series(1, 190) r, generate_series(0, 499) i;
CREATE TABLE fr_pr (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('fr_pr', numbering => 'per_root');
INSERT INTO fr_pr SELECT * FROM fr_src ORDER BY id;
CREATE TABLE fr_ps (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('fr_ps');
INSERT INTO fr_ps SELECT * FROM fr_src ORDER BY id;
CREATE TABLE fr_mp (id int PRIMARY KEY, parent_id int, name text, lft int, rgt int, level int, tree_id int);
INSERT INTO fr_mp SELECT id, parent_id, name, lft, rgt, depth, tree_root FROM fr_pr;
CREATE INDEX ON fr_mp (tree_id, lft);  -- MPTTModel's index_together
CREATE INDEX ON fr_mp (parent_id);     -- the parent ForeignKey's index
CREATE INDEX ON fr_mp (lft); CREATE INDEX ON fr_mp (rgt); CREATE INDEX ON fr_mp (level);  -- db_index=True
CREATE SEQUENCE fr_ids START 10000000;
-- One round of each contender's cascade delete of a 9-node subtree under
-- node 95003 (made again, untimed, before each delete), alternating.
CREATE TABLE fr_times (what text, ms numeric);
CREATE PROCEDURE fr_delete_rounds(n int) LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz; x int; a int; b int; tid int; lvl int;
BEGIN
    FOR i IN 1..n LOOP
        x := nextval('fr_ids') * 10;
        INSERT INTO fr_pr SELECT x, 95003, 's' UNION ALL SELECT x + g, x, 'c' FROM generate_series(1, 8) g;
        t0 := clock_timestamp();
        DELETE FROM fr_pr WHERE id = x;
        INSERT INTO fr_times VALUES ('delete per_root', extract(epoch FROM clock_timestamp() - t0) * 1000);
        INSERT INTO fr_ps SELECT x, 95003, 's' UNION ALL SELECT x + g, x, 'c' FROM generate_series(1, 8) g;
        t0 := clock_timestamp();
        DELETE FROM fr_ps WHERE id = x;
        INSERT INTO fr_times VALUES ('delete per_scope', extract(epoch FROM clock_timestamp() - t0) * 1000);
        -- django-mptt's subtree, numbered as it would: space at the parent's rgt.
        SELECT rgt, tree_id, level INTO b, tid, lvl FROM fr_mp WHERE id = 95003;
        UPDATE fr_mp SET lft = CASE WHEN lft > b - 1 THEN lft + 18 ELSE lft END,
                         rgt = CASE WHEN rgt > b - 1 THEN rgt + 18 ELSE rgt END
         WHERE tree_id = tid AND (lft > b - 1 OR rgt > b - 1);
        INSERT INTO fr_mp SELECT x, 95003, 's', b, b + 17, lvl + 1, tid
              UNION ALL SELECT x + g, x, 'c', b + 2 * g - 1, b + 2 * g, lvl + 2, tid FROM generate_series(1, 8) g;
        SELECT lft, rgt INTO a, b FROM fr_mp WHERE id = x;  -- django holds the node's numbers
        t0 := clock_timestamp();
        DELETE FROM fr_mp WHERE tree_id = tid AND lft BETWEEN a AND b;
        UPDATE fr_mp SET lft = CASE WHEN lft > b THEN lft - (b - a + 1) ELSE lft END,
                         rgt = CASE WHEN rgt > b THEN rgt - (b - a + 1) ELSE rgt END
         WHERE tree_id = tid AND (lft > b OR rgt > b);
        INSERT INTO fr_times VALUES ('delete mptt', extract(epoch FROM clock_timestamp() - t0) * 1000);
        COMMIT;
    END LOOP;
END $$;
SQL
settle fr_pr fr_ps fr_mp
# Insert a leaf under node 95003: chronicle's one INSERT, and django-mptt's two
# statements (the parent's numbers read by the statements themselves).
ins_pr="INSERT INTO fr_pr VALUES (nextval('fr_ids'), 95003, 'leaf')"
ins_ps="INSERT INTO fr_ps VALUES (nextval('fr_ids'), 95003, 'leaf')"
ins_mp="UPDATE fr_mp m SET lft = CASE WHEN m.lft > p.rgt - 1 THEN m.lft + 2 ELSE m.lft END, rgt = CASE WHEN m.rgt > p.rgt - 1 THEN m.rgt + 2 ELSE m.rgt END FROM (SELECT rgt, tree_id FROM fr_mp WHERE id = 95003) p WHERE m.tree_id = p.tree_id AND (m.lft > p.rgt - 1 OR m.rgt > p.rgt - 1); INSERT INTO fr_mp SELECT nextval('fr_ids'), id, 'leaf', rgt - 2, rgt - 1, level + 1, tree_id FROM fr_mp WHERE id = 95003"
read -r pr mp <<<"$(median_pair_ms "$ins_pr" "$ins_mp" 25)"
report "forest insert leaf: per_root vs django-mptt SQL" "$pr" "$mp" ms "<=1.0" "190 trees, 95k rows"
read -r ps pr2 <<<"$(median_pair_ms "$ins_ps" "$ins_pr" 25)"
report "forest insert leaf: one sequence vs per_root" "$ps" "$pr2" ms "" "per_root shifts one tree"
sql -c "CALL fr_delete_rounds(25)"
fr_median() {
    sql -t -A -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 4) FROM fr_times WHERE what = '$1'"
}
report "forest cascade delete (9 nodes): per_root vs django-mptt SQL" "$(fr_median 'delete per_root')" "$(fr_median 'delete mptt')" ms "<=1.0"
report "forest cascade delete (9 nodes): one sequence vs per_root" "$(fr_median 'delete per_scope')" "$(fr_median 'delete per_root')" ms ""
sql -t -A -c "SELECT (SELECT count(*) FROM chronicle.tree_validate('fr_pr')) + (SELECT count(*) FROM chronicle.tree_validate('fr_ps'))" | sed 's/^/   forest problems after the writes: /'

# Latency of one structural write (each repeated, median): a leaf inserted
# under the node in the middle of the numbering (half the rows shift: the
# nested-set trade-off), and the subtree of node 20 moved
# under its next sibling and back (a local move: rows between them shift).
sql <<'SQL'
CREATE SEQUENCE leaf_ids START 1000000;
SQL
for size in 10k 100k; do
    t=ns; a=adj
    [[ $size == 10k ]] && t=ns10k && a=adj10k
    settle $t $a
    # The node whose lft is the median: a leaf under it shifts half the rows.
    mid=$(sql -t -A -c "SELECT id FROM $t WHERE lft >= (SELECT max(rgt) / 2 FROM $t) ORDER BY lft LIMIT 1")
    ins=$(median_ms "INSERT INTO $t VALUES (nextval('leaf_ids'), $mid, 'leaf')" 5)
    plain=$(median_ms "INSERT INTO $a VALUES (nextval('leaf_ids'), $mid, 'leaf')" 5)
    sql -c "VACUUM ANALYZE $t"
    report "insert leaf at $size nodes vs plain INSERT" "$ins" "$plain" ms ""
    mv=$(median_ms "SELECT chronicle.tree_move('$t', 20, 21, 'last_child'); SELECT chronicle.tree_move('$t', 20, 21, 'before')" 5)
    upd=$(median_ms "UPDATE $a SET parent_id = 21 WHERE id = 20; UPDATE $a SET parent_id = 2 WHERE id = 20" 5)
    report "move subtree (local) x2 at $size nodes vs plain UPDATE" "$mv" "$upd" ms ""
done
sql -t -A -c "SELECT count(*) FROM chronicle.tree_validate('ns')" | sed 's/^/   ns problems after the writes: /'
