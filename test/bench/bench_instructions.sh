#!/usr/bin/env bash
# bench_instructions: append's cost counted in CPU instructions (valgrind's
# callgrind), the one measure that a shared, noisy machine cannot disturb.
# A single-user backend (no client, no network, no other process) runs N
# statements of each kind; the count of a run of 20 is subtracted, so
# start-up and shut-down cancel out and what remains is the cost per statement.
#   append of one event vs the raw INSERT of bench_append (same columns and
#   indexes): the pgbench target >= 0.75x in throughput is <= 1.33x here;
#   a bulk load of 20,000 nodes in one INSERT ... SELECT into an attached
#   table vs the same INSERT into a plain one (bench_tree's target <= 4x),
#   chronicle's library loaded first in both.
# Skipped (with a note) when valgrind is missing; run.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/bench/lib.sh
if ! command -v valgrind >/dev/null; then
    echo "   (valgrind is not installed: instruction counts skipped)"
    exit 0
fi
n=${BENCH_STATEMENTS:-300}
cluster_init instructions >/dev/null
base="$(chronicle_workdir)/instructions"
trap 'rm -rf "$base"' EXIT

# single FILE: run FILE's lines as statements in a single-user backend.
single() {
    as_pg "$PGBIN/postgres" --single -D "$base/data" -c fsync=off -c synchronous_commit=off \
        -j bench <"$1" >"$base/single.out" 2>&1
}
printf 'CREATE DATABASE bench\n' | as_pg "$PGBIN/postgres" --single -D "$base/data" postgres >/dev/null 2>&1
cat >"$base/setup.sql" <<'SQL'
CREATE EXTENSION chronicle;
CREATE TABLE raw_events (LIKE chronicle.events INCLUDING DEFAULTS);
ALTER TABLE raw_events ADD PRIMARY KEY (stream_id, version),
    ADD UNIQUE (global_position), ADD UNIQUE (event_id);
CREATE INDEX ON raw_events (tx_id, global_position);
CREATE INDEX ON raw_events (split_part(stream_id, '-', 1), tx_id, global_position);
CREATE SEQUENCE raw_version;
CREATE SEQUENCE raw_position;
SELECT count(chronicle.append('account-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
CREATE TABLE load_ns (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('load_ns');
CREATE TABLE load_plain (id int PRIMARY KEY, parent_id int, name text);
SQL
chmod a+r "$base/setup.sql"
single "$base/setup.sql"

# statements KIND COUNT: one statement per line (single-user mode without -j).
statements() {
    local i
    for ((i = 0; i < $2; i++)); do
        case $1 in
        append) echo "SELECT chronicle.append('account-$((i % 100 + 1))', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}')" ;;
        load_ns | load_plain)
            # As in any backend that has used chronicle: its planner hook
            # (whole new trees stored already numbered) exists once the
            # library is loaded, and a fresh backend has not loaded it yet.
            echo "LOAD 'chronicle'"
            echo "TRUNCATE $1"
            echo "INSERT INTO $1 SELECT g, CASE WHEN g > 1 THEN (g + 6) / 8 END, 'n' || g FROM generate_series(1, $2) g"
            return ;;
        raw) echo "INSERT INTO raw_events VALUES ('account-$((i % 100 + 1))', nextval('raw_version'), nextval('raw_position'), gen_random_uuid(), 'Deposited', 1, '{\"amount\": 10, \"currency\": \"EUR\"}', '{}', now(), pg_current_xact_id(), '\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')" ;;
        esac
    done
}
# count KIND COUNT: instructions of a backend that runs COUNT statements of KIND.
count() {
    statements "$1" "$2" >"$base/in.txt"
    chmod a+r "$base/in.txt"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$base/cg.out" \
        "$PGBIN/postgres" --single -D "$base/data" -c fsync=off -c synchronous_commit=off bench \
        <"$base/in.txt" >/dev/null 2>"$base/valgrind.err"
    sed -n 's/^totals: *\([0-9]*\).*/\1/p;s/^summary: *\([0-9]*\).*/\1/p' "$base/cg.out" | head -1
}
per_statement() {
    local small big
    small=$(count "$1" 20)
    big=$(count "$1" $((n + 20)))
    echo $(((big - small) / n))
}
chmod a+rwx "$base"
append=$(per_statement append)
raw=$(per_statement raw)
report "append: instructions per event (callgrind)" "$append" "$raw" Ir "<=1.33" \
    "raw INSERT; single-user backend, $n statements"

# One statement of 20,000 rows, less one of a single row.
load() {
    echo $(($(count "$1" 20000) - $(count "$1" 1)))
}
attached=$(load load_ns)
plain=$(load load_plain)
report "bulk load 20k: instructions, attached vs plain" "$attached" "$plain" Ir "<=4" \
    "one INSERT ... SELECT; single-user backend"
