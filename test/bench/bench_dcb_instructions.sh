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
#      stored as for any caller, and not printed by the single-user backend;
#   3. append_events of one event with a one-item condition vs plain append
#      (target >= 0.6x in throughput, i.e. <= 1.67x here).
# DCB_GIN="fastupdate = on, gin_pending_list_limit = 64": storage parameters set
# on the tag index first, to measure another setting than the installed one.
# With a pending list (fastupdate on), every search scans it whole: the reads
# are measured twice, on the list as the load's VACUUM left it (empty) and
# after 3-tag appends filled it to the most it holds before an insert cleans
# it up; and every append run ends with gin_clean_pending_list(), so that
# each run pays for moving every event it added to the list into the index
# (the appends are DCB_APPENDS, default 2000, to span several cleanups;
# DCB_WARM, below, appends some first).
# Skipped (with a note) when valgrind is missing; run.sh installs it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null; then
    echo "   (valgrind is not installed: instruction counts skipped)"
    exit 0
fi
n=${BENCH_STATEMENTS:-300}
n_append=${DCB_APPENDS:-2000}
events=${DCB_EVENTS:-1000000}
tags=$((events / 100))
gin_set=""
if [[ -n ${DCB_GIN:-} ]]; then
    gin_set="ALTER INDEX chronicle.events_tags_idx SET ($DCB_GIN);"
fi

# In -j mode a statement ends at a semicolon followed by an empty line: each
# runs in its own transaction (VACUUM cannot run in one with the load).
cat >"$tmp/setup.sql" <<SQL
CREATE EXTENSION chronicle;

CREATE EXTENSION pgstattuple;

$gin_set

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

# single_user FILE: run FILE's statements (one a line) in a single-user
# backend, not measured; its output in $tmp/single.out.
single_user() {
    chmod a+r "$1"
    as_pg "$PGBIN/postgres" --single -D "$data" -c fsync=off -c synchronous_commit=off bench \
        <"$1" >"$tmp/single.out" 2>&1
}
echo "SELECT coalesce(array_to_string(reloptions, ', '), 'defaults') AS tag_index FROM pg_class WHERE oid = 'chronicle.events_tags_idx'::regclass" >"$tmp/q.sql"
single_user "$tmp/q.sql"
echo "   (tag index: $(sed -n 's/.*tag_index = "\(.*\)".*/\1/p' "$tmp/single.out"))"
# The fill: 3-tag appends (the write load of 1) until the list has as many
# pages as it holds before an insert cleans it up (pages * GIN_PAGE_FREESIZE,
# 8160 bytes, > the limit in kB * 1024); nothing without a list.
cat >"$tmp/fill.sql" <<'SQL'
DO $$ DECLARE i int := 0; fu text; lim int; max int; BEGIN SELECT (SELECT split_part(x, '=', 2) FROM unnest(c.reloptions) x WHERE x LIKE 'fastupdate=%'), (SELECT split_part(x, '=', 2)::int FROM unnest(c.reloptions) x WHERE x LIKE 'gin_pending_list_limit=%') INTO fu, lim FROM pg_class c WHERE c.oid = 'chronicle.events_tags_idx'::regclass; max := CASE WHEN coalesce(fu, 'on') IN ('off', 'false') THEN 0 ELSE coalesce(lim, (SELECT setting::int FROM pg_settings WHERE name = 'gin_pending_list_limit')) * 1024 / 8160 END; WHILE (SELECT pending_pages FROM pgstatginindex('chronicle.events_tags_idx')) < max LOOP i := i + 1; PERFORM chronicle.append('account-' || (i % 100 + 1), 'Deposited', '{"amount": 10, "currency": "EUR"}', tags => ARRAY['customer:' || (i % 100 + 1), 'region:eu', 'order:fill-' || i]); COMMIT; END LOOP; RAISE NOTICE 'pending list filled by % appends', i; END $$
SELECT pending_pages, pending_tuples FROM pgstatginindex('chronicle.events_tags_idx')
SQL
echo "SELECT pending_pages, pending_tuples FROM pgstatginindex('chronicle.events_tags_idx')" >"$tmp/pending.sql"
pending_state() {
    single_user "$tmp/pending.sql"
    echo "$(sed -n 's/.*pending_pages = "\([0-9]*\)".*/\1/p' "$tmp/single.out") pages, $(sed -n 's/.*pending_tuples = "\([0-9]*\)".*/\1/p' "$tmp/single.out") events"
}
echo "SELECT gin_clean_pending_list('chronicle.events_tags_idx')" >"$tmp/clean.sql"

mid=$((tags / 2))
# statements KIND COUNT: one statement per line (single-user mode without -j).
# The appends go to account-1..100 and name a random order; the reads come
# back to the same rows each time (warm, as bench_dcb's medians are).
statements() {
    local i sid t stamp
    stamp=$(date +%s%N)
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
        cond) echo "SELECT count(*) FROM chronicle.append_events('[{\"stream_id\": \"user-$sid\", \"type\": \"Deposited\", \"data\": {\"amount\": 10, \"currency\": \"EUR\"}, \"tags\": [\"username-$stamp-$i\"]}]', '{\"items\": [{\"types\": [\"Deposited\"], \"tags\": [\"username-$stamp-$i\"]}]}')" ;;
        esac
    done
    # An append run moves what it added to the pending list into the index.
    case $1 in
    plain | tags | tags_expr | cond) echo "SELECT gin_clean_pending_list('chronicle.events_tags_idx')" ;;
    esac
}
# The reads first, while the log is as loaded (the load's VACUUM emptied any list).
echo "   (pending list: $(pending_state))"
query=$(ir_per_statement "$PGBIN" "$data" "$n" statements query)
stream=$(ir_per_statement "$PGBIN" "$data" "$n" statements stream)
report "read_query: 1 tag's 100 spread events (callgrind)" "$query" "$stream" Ir "<=2" \
    "read_stream of 100 events; $events events, single-user backend, $n statements"
query_near=$(ir_per_statement "$PGBIN" "$data" "$n" statements query_near)
stream_near=$(ir_per_statement "$PGBIN" "$data" "$n" statements stream_near)
report "read_query: 100 adjacent events (callgrind)" "$query_near" "$stream_near" Ir "<=2" \
    "read_stream of the same 100 events"
# Again with the pending list nearly full, when the index has one.
single_user "$tmp/fill.sql"
grep -o 'pending list filled by [0-9]* appends' "$tmp/single.out" | sed 's/^/   (/;s/$/)/' || true
pending=$(pending_state)
if [[ $pending != "0 pages, 0 events" ]]; then
    echo "   (pending list: $pending)"
    query=$(ir_per_statement "$PGBIN" "$data" "$n" statements query)
    report "read_query: 1 tag's 100 spread events, list full (callgrind)" "$query" "$stream" Ir "<=2" \
        "read_stream of 100 events; pending list $pending"
    query_near=$(ir_per_statement "$PGBIN" "$data" "$n" statements query_near)
    report "read_query: 100 adjacent events, list full (callgrind)" "$query_near" "$stream_near" Ir "<=2" \
        "read_stream of the same 100 events"
fi
# DCB_WARM=N: N 3-tag appends first (not measured), so that the appends
# measured meet the index of a log with a history of those tags (region:eu's
# entry then a posting tree, not a posting list re-encoded at each insert).
if ((${DCB_WARM:-0} > 0)); then
    echo "DO \$\$ BEGIN FOR i IN 1..${DCB_WARM} LOOP PERFORM chronicle.append('account-' || (i % 100 + 1), 'Deposited', '{\"amount\": 10}', tags => ARRAY['customer:' || (i % 100 + 1), 'region:eu', 'order:warm-' || i]); COMMIT; END LOOP; END \$\$" >"$tmp/warm.sql"
    single_user "$tmp/warm.sql"
    echo "   (warm-up: ${DCB_WARM} 3-tag appends)"
fi
single_user "$tmp/clean.sql"
plain=$(ir_per_statement "$PGBIN" "$data" "$n_append" statements plain)
cond=$(ir_per_statement "$PGBIN" "$data" "$n_append" statements cond)
report "append_events: 1 event, 1-item condition (callgrind)" "$cond" "$plain" Ir "<=1.67" \
    "plain append of 1 event; $n_append statements, each run ending with gin_clean_pending_list()"
tagged=$(ir_per_statement "$PGBIN" "$data" "$n_append" statements tags)
tagged_expr=$(ir_per_statement "$PGBIN" "$data" "$n_append" statements tags_expr)
report "append: 3 tags, instructions (callgrind)" "$tagged" "$plain" Ir "<=1.11" \
    "append without tags; tags bound as one text[] value"
report "append: 3 tags built by ARRAY[.. || ..] (callgrind)" "$tagged_expr" "$plain" Ir "" \
    "the statement's expression parsed and run per call"
