#!/usr/bin/env bash
# bench_append: the event store's hot paths against plain PostgreSQL doing the
# same work in the same run (BENCH=append make bench).
#   1. chronicle.append of one event (pgbench, 2 clients, 100 streams) vs a raw
#      INSERT into a table with the same columns and indexes;   target >= 0.75x
#   2. chronicle.append_batch of 100 events vs INSERT ... SELECT of the same
#      rows from the same JSON array;                            target >= 0.7x
#   3. chronicle.read_all pages of 1000 vs the plain ordered index scan it
#      wraps, inside the server and as fetched by a client;     target <= 1.5x
#   4. (design note) append declared SECURITY DEFINER with SET search_path vs
#      the shipped append, which switches user in C instead.
# Throughputs are the best of three interleaved runs, and read_all's times the
# lowest of three interleaved medians, to damp the noise of a shared machine.
# BENCH_SECONDS (default 5) is the length of each pgbench run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql <<'SQL'
-- The baseline: chronicle.events' columns and indexes, no functions, no triggers.
\i test/bench/raw_events.sql
-- The same C function, declared the way a plpgsql-minded design would.
CREATE FUNCTION append_secdef(stream_id text, type text, data jsonb, metadata jsonb DEFAULT NULL,
                              expected_version bigint DEFAULT NULL, event_id uuid DEFAULT NULL)
    RETURNS bigint LANGUAGE c SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS '$libdir/chronicle', 'chronicle_append';
-- Streams exist before the runs: steady-state appends, not stream creation.
SELECT count(chronicle.append('account-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
SELECT count(chronicle.append('batch-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
SQL

cat >"$tmp/raw.sql" <<'EOF2'
\set sid random(1, 100)
INSERT INTO raw_events VALUES ('account-' || :sid, nextval('raw_version'), nextval('raw_position'),
    gen_random_uuid(), 'Deposited', 1, '{"amount": 10, "currency": "EUR"}', '{}', now(),
    pg_current_xact_id(), '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff');
EOF2
cat >"$tmp/secdef.sql" <<'EOF2'
\set sid random(1, 100)
SELECT append_secdef('account-' || :sid, 'Deposited', '{"amount": 10, "currency": "EUR"}');
EOF2

batch=$(sql -t -A -c "SELECT jsonb_agg(jsonb_build_object('type', 'Deposited', 'data',
    jsonb_build_object('amount', i, 'currency', 'EUR'))) FROM generate_series(1, 100) i")
cat >"$tmp/raw_batch.sql" <<EOF2
\set sid random(1, 100)
INSERT INTO raw_events SELECT 'batch-' || :sid, nextval('raw_version'), nextval('raw_position'),
    gen_random_uuid(), e->>'type', 1, e->'data', '{}', now(), pg_current_xact_id(),
    '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'
FROM jsonb_array_elements('$batch') e;
EOF2
cat >"$tmp/append_batch.sql" <<EOF2
\set sid random(1, 100)
SELECT chronicle.append_batch('batch-' || :sid, '$batch');
EOF2

read -r append raw < <(tps_pair test/bench/append.pgbench "$tmp/raw.sql")
report "append: 1 event, 2 clients, 100 streams" "$append" "$raw" tps ">=0.75" "raw INSERT, same columns and indexes"

read -r append_batch raw_batch < <(tps_pair "$tmp/append_batch.sql" "$tmp/raw_batch.sql")
report "append_batch: 100 events per call" "$append_batch" "$raw_batch" tps ">=0.7" "INSERT ... SELECT of the same rows"

read -r secdef append2 < <(tps_pair "$tmp/secdef.sql" test/bench/append.pgbench)
report "append as SECURITY DEFINER + SET search_path" "$secdef" "$append2" tps "" "design note: vs the shipped append"

# A page of 1000 from the middle of the log, and the scan it wraps.
read -r tx pos < <(sql -t -A -F ' ' -c "SELECT tx_id, global_position FROM chronicle.events
    ORDER BY tx_id, global_position OFFSET (SELECT count(*) / 2 FROM chronicle.events) LIMIT 1")
settle chronicle.events
read -r page scan < <(ms_pair "SELECT * FROM chronicle.read_all('$tx', $pos, 1000)" \
    "SELECT * FROM chronicle.events e WHERE (e.tx_id, e.global_position) > ('$tx'::xid8, $pos::bigint)
    AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.tx_id, e.global_position LIMIT 1000")
report "read_all: page of 1000" "$page" "$scan" ms "<=1.5" "ordered index scan, LIMIT 1000"
read -r page_cat scan_cat < <(ms_pair "SELECT * FROM chronicle.read_all('0', 0, 1000, category => 'account')" \
    "SELECT * FROM chronicle.events e WHERE (e.tx_id, e.global_position) > ('0'::xid8, 0::bigint)
    AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) AND split_part(e.stream_id, '-', 1) = 'account'
    ORDER BY e.tx_id, e.global_position LIMIT 1000")
report "read_all: category page of 1000" "$page_cat" "$scan_cat" ms "<=1.5" "ordered index scan, LIMIT 1000"

# The same page as a client sees it: fetched over the connection (1 client).
echo "SELECT * FROM chronicle.read_all('$tx', $pos, 1000);" >"$tmp/page.sql"
echo "SELECT * FROM chronicle.events e WHERE (e.tx_id, e.global_position) > ('$tx'::xid8, $pos::bigint)
    AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY e.tx_id, e.global_position LIMIT 1000;" >"$tmp/scan.sql"
read -r page_tps scan_tps < <(tps_pair "$tmp/page.sql" "$tmp/scan.sql" 1)
per_page() { awk -v t="$1" 'BEGIN { printf "%.4f", 1000 / t }'; }
report "read_all: page of 1000, fetched by a client" "$(per_page "$page_tps")" "$(per_page "$scan_tps")" \
    ms "<=1.5" "same scan sent to the client; ms per page"
