#!/usr/bin/env bash
# bench_dcb: tags, read_query and conditional appends (docs/reference/dcb.md) against the
# plain operations of the same run (BENCH=dcb make bench).
#   1. append_events of one event with a one-item condition (2 clients, each
#      its own tags) vs plain append of one event;                target >= 0.6x
#   2. append of one event with 3 tags vs without tags;           target >= 0.9x
#      (instruction counts of 2 and 3: bench_dcb_instructions.sh)
#   3. read_query of one tag's 100 events among DCB_EVENTS (default 1,000,000),
#      the tag's events spread over the whole log, vs read_stream of a
#      100-event stream;                                           target <= 2x
#   4. (design note) the same tag read through the alternative index, a tag
#      table (tag, tx_id, global_position) with a B-tree, vs the GIN index;
#      and the write side: an INSERT with 3 tags into a table with the partial
#      GIN index vs the same INSERT plus 3 tag-table rows.
# Throughputs are the best of three interleaved runs, times the lowest of
# three interleaved medians.  BENCH_SECONDS (default 5) per pgbench run.
#   DCB_GIN="fastupdate = on, gin_pending_list_limit = 64"   storage parameters
#       set on the tag index first (ALTER INDEX ... SET), to measure another
#       setting than the installed one;
#   DCB_NOTES=0   skips 4 (the design note's comparisons).
# When the tag index has a pending list (fastupdate on), every search scans
# it whole: the reads are then measured with the list nearly full (fill_pending).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
events=${DCB_EVENTS:-1000000}
tags=$((events / 100))

if [[ -n ${DCB_GIN:-} ]]; then
    sql -c "ALTER INDEX chronicle.events_tags_idx SET ($DCB_GIN)"
fi
# The index's pending list limit in pages, 0 without a list: a list is
# cleaned up by the insert after which its pages hold more than the limit
# (pages * GIN_PAGE_FREESIZE, 8160 bytes, > limit in kB * 1024), so a
# nearly full list has this many pages.
pending_max=$(sql -t -A <<'SQL'
SELECT CASE WHEN coalesce(o.fastupdate, 'on') IN ('off', 'false') THEN 0
            ELSE coalesce(o.lim, (SELECT setting::int FROM pg_settings WHERE name = 'gin_pending_list_limit')) * 1024 / 8160 END
FROM (SELECT (SELECT split_part(x, '=', 2) FROM unnest(c.reloptions) x WHERE x LIKE 'fastupdate=%') AS fastupdate,
             (SELECT split_part(x, '=', 2)::int FROM unnest(c.reloptions) x WHERE x LIKE 'gin_pending_list_limit=%') AS lim
      FROM pg_class c WHERE c.oid = 'chronicle.events_tags_idx'::regclass) o;
SQL
)
echo "   (tag index: $(sql -t -A -c "SELECT coalesce(array_to_string(reloptions, ', '), 'defaults') FROM pg_class WHERE oid = 'chronicle.events_tags_idx'::regclass"); pending list of at most $pending_max pages)"
if ((pending_max > 0)); then
    sql -c "CREATE EXTENSION IF NOT EXISTS pgstattuple"
fi
# fill_pending: with a pending list, append 3-tag events (the write load of 2,
# one a transaction) until the list has pending_max pages, the most it holds
# before an insert cleans it up: the worst state a read meets.  Nothing
# without a list.
fill_pending() {
    ((pending_max > 0)) || return 0
    sql <<SQL
DO \$\$
DECLARE
    i int := 0;
BEGIN
    WHILE (SELECT pending_pages FROM pgstatginindex('chronicle.events_tags_idx')) < $pending_max LOOP
        i := i + 1;
        PERFORM chronicle.append('account-' || (i % 100 + 1), 'Deposited', '{"amount": 10, "currency": "EUR"}',
                                 tags => ARRAY['customer:' || (i % 100 + 1), 'region:eu', 'order:fill-' || i]);
        COMMIT;
    END LOOP;
    RAISE NOTICE 'pending list filled by % appends', i;
END \$\$;
SQL
    echo "   (pending list before the reads: $(sql -t -A -c "SELECT pending_pages || ' pages, ' || pending_tuples || ' events' FROM pgstatginindex('chronicle.events_tags_idx')"))"
}

sql <<'SQL'
SELECT count(chronicle.append('account-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
SELECT count(chronicle.append('user-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
SQL

# 1 and 2: appends.  Every conditional append names a tag of its own (the
# client id and a random number of 1..10^18), so its condition finds nothing
# and passes.  (With 1..10^9, two of a client's 10^5 appends drew the same
# number in about every other run: the condition failed and pgbench aborted.)
# The tags as an application binds them, one text[] value (pgbench puts the
# numbers into the literal); append_tags_expr.sql builds the same array with
# an expression the server parses, plans and runs in each statement (about
# 140k instructions more per call, bench_dcb_instructions), the form this
# script used first.
cat >"$tmp/append_tags.sql" <<'EOF2'
\set sid random(1, 100)
\set t random(1, 1000000000)
SELECT chronicle.append('account-' || :sid, 'Deposited', '{"amount": 10, "currency": "EUR"}',
                        tags => '{customer-:sid,region:eu,order-:t}');
EOF2
cat >"$tmp/append_tags_expr.sql" <<'EOF2'
\set sid random(1, 100)
\set t random(1, 1000000000)
SELECT chronicle.append('account-' || :sid, 'Deposited', '{"amount": 10, "currency": "EUR"}',
                        tags => ARRAY['customer:' || :sid, 'region:eu', 'order:' || :t]);
EOF2
cat >"$tmp/conditional.sql" <<'EOF2'
\set sid random(1, 100)
\set t random(1, 1000000000000000000)
SELECT * FROM chronicle.append_events(
  '[{"stream_id": "user-:sid", "type": "Deposited", "data": {"amount": 10, "currency": "EUR"}, "tags": ["username-:client_id-:t"]}]',
  '{"items": [{"types": ["Deposited"], "tags": ["username-:client_id-:t"]}]}');
EOF2

read -r cond plain < <(tps_pair "$tmp/conditional.sql" test/bench/append.pgbench)
report "append_events: 1 event, 1-item condition" "$cond" "$plain" tps ">=0.6" "plain append of 1 event, 2 clients"
read -r tagged untagged < <(tps_pair "$tmp/append_tags.sql" test/bench/append.pgbench)
report "append: 1 event with 3 tags" "$tagged" "$untagged" tps ">=0.9" "append without tags; tags bound as one text[]"
read -r tagged_expr untagged < <(tps_pair "$tmp/append_tags_expr.sql" test/bench/append.pgbench)
report "append: 3 tags built by ARRAY[.. || ..]" "$tagged_expr" "$untagged" tps "" "append without tags"

# 3: the log.  $events events in streams of 100 (load-1 .. load-N); event k
# carries tag 'tag:' || (k % N), so each tag has 100 events spread over the
# whole log (one per stream of every 100th... i.e. far apart on disk).
echo "   (loading $events events, $tags tags of 100 events each)"
sql -v n="$tags" <<'SQL'
SELECT count(chronicle.append_batch('load-' || s, (
    SELECT jsonb_agg(jsonb_build_object('type', 'Loaded', 'data', jsonb_build_object('k', k),
                                        'tags', jsonb_build_array('tag:' || (k % :n))) ORDER BY k)
    FROM generate_series((s - 1) * 100, s * 100 - 1) k)))
FROM generate_series(1, :n) s;
SQL
settle chronicle.events
fill_pending

# The two reads take turns in one backend (median_pair_ms: both see the same
# drift of a shared machine), 200 times each, in three rounds; the lowest
# median of each.  Both return the same rows of chronicle.events through the
# same result path; what differs is the search (tag index, bitmap heap scan,
# ordering) and, for the spread tag, the heap pages read (100 against 3).
turns_ms_pair() {
    local a=() b=() i x y
    for i in 1 2 3; do
        read -r x y < <(median_pair_ms "$1" "$2" 200)
        a+=("$x")
        b+=("$y")
    done
    echo "$(printf '%s\n' "${a[@]}" | sort -g | head -1) $(printf '%s\n' "${b[@]}" | sort -g | head -1)"
}
mid=$((tags / 2))
read -r rq rs < <(turns_ms_pair "SELECT * FROM chronicle.read_query('{\"items\": [{\"tags\": [\"tag:$mid\"]}]}')" \
    "SELECT * FROM chronicle.read_stream('load-$mid')")
report "read_query: 1 tag's 100 events among $events" "$rq" "$rs" ms "<=2" "read_stream of 100 events; the tag's events 1 per 100 in the log"
# The same read when a tag's events sit together in the log (a tag given to
# one stream's events, as 'account:7' on the account's stream).
sql -c "SELECT count(chronicle.append_batch('near-1', (SELECT jsonb_agg(jsonb_build_object('type', 'Loaded',
    'data', jsonb_build_object('k', k), 'tags', jsonb_build_array('near:1'))) FROM generate_series(1, 100) k)))" >/dev/null
settle chronicle.events
fill_pending
read -r rqn rsn < <(turns_ms_pair "SELECT * FROM chronicle.read_query('{\"items\": [{\"tags\": [\"near:1\"]}]}')" \
    "SELECT * FROM chronicle.read_stream('near-1')")
report "read_query: 1 tag's 100 adjacent events among $events" "$rqn" "$rsn" ms "<=2" "read_stream of the same 100 events"

[[ ${DCB_NOTES:-1} == 0 ]] && exit 0
# 4: the alternative index, a tag table, for the same read and for the write.
sql <<'SQL'
CREATE TABLE event_tags (tag text, tx_id xid8, global_position bigint, PRIMARY KEY (tag, tx_id, global_position));
INSERT INTO event_tags SELECT t, e.tx_id, e.global_position FROM chronicle.events e, unnest(e.tags) t;
SQL
settle event_tags
read -r via_table via_gin < <(ms_pair "SELECT e.* FROM event_tags t JOIN chronicle.events e USING (global_position)
        WHERE t.tag = 'tag:$mid' ORDER BY t.tx_id, t.global_position LIMIT 1000" \
    "SELECT * FROM chronicle.events e WHERE e.tags <> '{}' AND e.tags @> ARRAY['tag:$mid']
        ORDER BY e.tx_id, e.global_position LIMIT 1000")
report "tag read via a tag table (design note)" "$via_table" "$via_gin" ms "" "the same read via the GIN index"
# The most frequent tag among many: 'common' on every 10th event of a 100,000-event table copy.
sql <<'SQL'
CREATE TABLE wide_log AS SELECT e.*, CASE WHEN e.global_position % 10 = 0 THEN ARRAY['common'] ELSE e.tags END AS t2
    FROM chronicle.events e LIMIT 100000;
CREATE INDEX ON wide_log USING gin (t2) WHERE t2 <> '{}';
CREATE INDEX ON wide_log (tx_id, global_position);
CREATE UNIQUE INDEX ON wide_log (global_position);
CREATE TABLE wide_tags AS SELECT t AS tag, tx_id, global_position FROM wide_log, unnest(t2) t;
ALTER TABLE wide_tags ADD PRIMARY KEY (tag, tx_id, global_position);
SQL
settle wide_log wide_tags
read -r wide_table wide_gin < <(ms_pair "SELECT w.* FROM wide_tags t JOIN wide_log w USING (global_position)
        WHERE t.tag = 'common' ORDER BY t.tx_id, t.global_position LIMIT 1000" \
    "SELECT * FROM wide_log w WHERE w.t2 <> '{}' AND w.t2 @> ARRAY['common']
        ORDER BY w.tx_id, w.global_position LIMIT 1000")
report "page of 1000 of a 10,000-event tag, tag table (design note)" "$wide_table" "$wide_gin" ms "" "via the GIN index"

# The write side of the two designs: the same 3-tag rows, GIN vs a tag table.
sql <<'SQL'
CREATE TABLE w_gin (LIKE chronicle.events INCLUDING DEFAULTS);
ALTER TABLE w_gin ADD PRIMARY KEY (stream_id, version);
CREATE INDEX ON w_gin USING gin (tags) WHERE tags <> '{}';
CREATE TABLE w_plain (LIKE chronicle.events INCLUDING DEFAULTS);
ALTER TABLE w_plain ADD PRIMARY KEY (stream_id, version);
CREATE TABLE w_tags (tag text, tx_id xid8, global_position bigint, PRIMARY KEY (tag, tx_id, global_position));
CREATE SEQUENCE w_seq;
SQL
cat >"$tmp/w_gin.sql" <<'EOF2'
\set t random(1, 1000000000)
INSERT INTO w_gin VALUES ('s-' || :client_id, nextval('w_seq'), currval('w_seq'), gen_random_uuid(), 'T', 1, '{}', '{}',
    now(), pg_current_xact_id(), '\x00', ARRAY['customer:' || :client_id, 'region:eu', 'order:' || :t]);
EOF2
cat >"$tmp/w_table.sql" <<'EOF2'
\set t random(1, 1000000000)
WITH e AS (INSERT INTO w_plain VALUES ('s-' || :client_id, nextval('w_seq'), currval('w_seq'), gen_random_uuid(), 'T', 1,
    '{}', '{}', now(), pg_current_xact_id(), '\x00', ARRAY['customer:' || :client_id, 'region:eu', 'order:' || :t])
    RETURNING tags, tx_id, global_position)
INSERT INTO w_tags SELECT t, e.tx_id, e.global_position FROM e, unnest(e.tags) t;
EOF2
read -r w_table w_gin < <(tps_pair "$tmp/w_table.sql" "$tmp/w_gin.sql")
report "insert with 3 tags, tag table (design note)" "$w_table" "$w_gin" tps "" "the same insert with the GIN index"
