#!/usr/bin/env bash
# Concurrent structural writes on a scoped tree: pgbench clients insert, move
# (tree_move and UPDATE of the parent), load small new trees and delete at random, under READ
# COMMITTED and then REPEATABLE READ (serialization failures retried).  Passes
# when no transaction failed for any other reason, no deadlock was reported,
# and tree_validate finds nothing.  Work is counted in transactions, not time.
# Runs against the cluster test/run.sh started (PGHOST etc. are exported).
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/cluster.sh
db=chronicle_tree_stress
scratch_db "$db"
export PGDATABASE=$db
work=$(mktemp -d)
at_exit rm -rf "$work"

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION chronicle;
CREATE TABLE st (id int PRIMARY KEY, parent_id int, site int NOT NULL);
SELECT chronicle.tree_attach('st', scope_column => 'site');
INSERT INTO st SELECT g, NULL, g FROM generate_series(1, 3) g;
INSERT INTO st SELECT g, 1 + g % 3, 1 + g % 3 FROM generate_series(4, 300) g;
CREATE SEQUENCE st_ids START 1000;
-- A move chosen from a snapshot can become invalid before it takes the tree
-- lock (a concurrent move put the target inside the node): TR001/TR002 are
-- the right answers then, and are counted, not failures.
CREATE TABLE refused (n int);
CREATE FUNCTION try_move(a int, b int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle.tree_move('st', a, b);
EXCEPTION WHEN SQLSTATE 'TR001' OR SQLSTATE 'TR002' THEN
    INSERT INTO refused VALUES (1);
END $$;
CREATE FUNCTION try_reparent(a int, b int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE st SET parent_id = b WHERE id = a AND site = (SELECT site FROM st WHERE id = b);
EXCEPTION WHEN SQLSTATE 'TR001' OR SQLSTATE 'TR002' THEN
    INSERT INTO refused VALUES (1);
END $$;
SQL

cat >"$work/insert.sql" <<'EOF2'
\set p random(1, 300)
INSERT INTO st SELECT nextval('st_ids'), id, site FROM st WHERE id = :p;
EOF2
# A small new tree (a root and three children) in one statement: stored with
# the numbers predicted before the tree lock (prenumber.cpp), which the
# concurrent writes of the same scope keep making wrong.
cat >"$work/forest.sql" <<'EOF2'
\set s random(1, 3)
WITH r AS (SELECT nextval('st_ids')::int AS id)
INSERT INTO st SELECT id, NULL, :s FROM r
     UNION ALL SELECT nextval('st_ids'), r.id, :s FROM r, generate_series(1, 3);
EOF2
cat >"$work/move.sql" <<'EOF2'
\set a random(4, 300)
\set b random(1, 300)
SELECT try_move(:a, :b) WHERE :a <> :b;
EOF2
cat >"$work/reparent.sql" <<'EOF2'
\set a random(4, 300)
\set b random(1, 300)
SELECT try_reparent(:a, :b) WHERE :a <> :b;
EOF2
cat >"$work/delete.sql" <<'EOF2'
\set a random(1000, 2500)
DELETE FROM st WHERE id = :a;
EOF2

# Any error other than a retried serialization failure aborts a pgbench
# client, which fails the suite.
run() {
    local label=$1
    shift
    local out
    out=$(pgbench -n -c 4 -j 2 -t 150 --max-tries=50 \
        -f "$work/insert.sql@4" -f "$work/forest.sql@2" -f "$work/move.sql@2" -f "$work/reparent.sql@1" -f "$work/delete.sql@2" "$@" 2>&1) || true
    echo "$out" | grep -E '^(number of (failed|transactions)|tps)' | sed "s/^/$label: /"
    if echo "$out" | grep -qiE 'deadlock|aborted|XX000'; then
        echo "$out" | grep -iE 'deadlock|aborted|XX000|ERROR' | head -5
        echo "FAILED: $label"
        return 1
    fi
}
run "read committed"
PGOPTIONS="-c default_transaction_isolation=repeatable\\ read" run "repeatable read"

problems=$(psql -X -t -A -c "SELECT count(*) FROM chronicle.tree_validate('st')")
rows=$(psql -X -t -A -c "SELECT count(*) FROM st")
refused=$(psql -X -t -A -c "SELECT count(*) FROM refused")
echo "rows: $rows, moves refused (TR001/TR002): $refused, tree_validate problems: $problems"
[[ $problems == 0 ]]
