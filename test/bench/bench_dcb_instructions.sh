#!/usr/bin/env bash
# bench_dcb_instructions: bench_dcb's two tag targets counted in CPU
# instructions (valgrind's callgrind), which a shared, noisy machine cannot
# disturb (BENCH=dcb_instructions make bench).  A single-user backend runs N
# statements of each kind; the count of a run of 20 is subtracted, so
# start-up and shut-down cancel out and what remains is the cost per
# statement (as bench_instructions does).
#   1. append of one event with 3 tags vs without tags, the statements as an
#      application sends them with the tags bound as one text[] value (and,
#      for comparison, with the tags built by an ARRAY[... || ...]
#      expression in the statement, as bench_dcb's pgbench script once did);
#      target >= 0.9x in throughput, i.e. <= 1.11x here;
#   2. read_query of one tag's 100 events among DCB_EVENTS (default
#      1,000,000), spread one per 100 events over the log, and of 100
#      adjacent ones, vs read_stream of a 100-event stream; target <= 2x.
#      Each statement is SELECT count(*) FROM f(...): the rows are built and
#      stored as for any caller, and not printed by the single-user backend.
# Skipped (with a note) when valgrind is missing; run.sh installs it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null; then
    echo "   (valgrind is not installed: instruction counts skipped)"
    exit 0
fi
n=${BENCH_STATEMENTS:-300}
events=${DCB_EVENTS:-1000000}
tags=$((events / 100))

# In -j mode a statement ends at a semicolon followed by an empty line: each
# runs in its own transaction (VACUUM cannot run in one with the load).
cat >"$tmp/setup.sql" <<SQL
CREATE EXTENSION chronicle;

SELECT count(chronicle.append('account-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;

SELECT count(chronicle.append_batch('load-' || s, (
    SELECT jsonb_agg(jsonb_build_object('type', 'Loaded', 'data', jsonb_build_object('k', k),
                                        'tags', jsonb_build_array('tag:' || (k % $tags))) ORDER BY k)
    FROM generate_series((s - 1) * 100, s * 100 - 1) k)))
FROM generate_series(1, $tags) s;

SELECT count(chronicle.append_batch('near-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Loaded',
    'data', jsonb_build_object('k', k), 'tags', jsonb_build_array('near:1'))) FROM generate_series(1, 100) k)));

CHECKPOINT;

VACUUM ANALYZE chronicle.events;

SQL
data="$tmp/data"
single_user_db "$PGBIN" "$data" "$tmp/setup.sql"
if grep -q 'ERROR' "$tmp/setup.out"; then
    grep -m3 'ERROR' "$tmp/setup.out" >&2
    echo "   (setup failed: instruction counts skipped)" >&2
    exit 1
fi

mid=$((tags / 2))
# statements KIND COUNT: one statement per line (single-user mode without -j).
# The appends go to account-1..100 and name a random order; the reads come
# back to the same rows each time (warm, as bench_dcb's medians are).
statements() {
    local i sid t
    for ((i = 0; i < $2; i++)); do
        sid=$((i % 100 + 1))
        t=$((RANDOM * 32768 + RANDOM))
        case $1 in
        plain) echo "SELECT chronicle.append('account-$sid', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}')" ;;
        tags) echo "SELECT chronicle.append('account-$sid', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}', tags => '{customer:$sid,region:eu,order:$t}')" ;;
        tags_expr) echo "SELECT chronicle.append('account-$sid', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}', tags => ARRAY['customer:' || $sid, 'region:eu', 'order:' || $t])" ;;
        query) echo "SELECT count(*) FROM chronicle.read_query('{\"items\": [{\"tags\": [\"tag:$mid\"]}]}')" ;;
        query_near) echo "SELECT count(*) FROM chronicle.read_query('{\"items\": [{\"tags\": [\"near:1\"]}]}')" ;;
        stream) echo "SELECT count(*) FROM chronicle.read_stream('load-$mid')" ;;
        stream_near) echo "SELECT count(*) FROM chronicle.read_stream('near-1')" ;;
        esac
    done
}
# The reads first, while the log is as loaded.
query=$(ir_per_statement "$PGBIN" "$data" "$n" statements query)
stream=$(ir_per_statement "$PGBIN" "$data" "$n" statements stream)
report "read_query: 1 tag's 100 spread events (callgrind)" "$query" "$stream" Ir "<=2" \
    "read_stream of 100 events; $events events, single-user backend, $n statements"
query_near=$(ir_per_statement "$PGBIN" "$data" "$n" statements query_near)
stream_near=$(ir_per_statement "$PGBIN" "$data" "$n" statements stream_near)
report "read_query: 100 adjacent events (callgrind)" "$query_near" "$stream_near" Ir "<=2" \
    "read_stream of the same 100 events"
plain=$(ir_per_statement "$PGBIN" "$data" "$n" statements plain)
tagged=$(ir_per_statement "$PGBIN" "$data" "$n" statements tags)
tagged_expr=$(ir_per_statement "$PGBIN" "$data" "$n" statements tags_expr)
report "append: 3 tags, instructions (callgrind)" "$tagged" "$plain" Ir "<=1.11" \
    "append without tags; tags bound as one text[] value"
report "append: 3 tags built by ARRAY[.. || ..] (callgrind)" "$tagged_expr" "$plain" Ir "" \
    "the statement's expression parsed and run per call"
