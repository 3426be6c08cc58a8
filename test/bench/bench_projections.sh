#!/usr/bin/env bash
# bench_projections: what an inline projection adds to an append
# (BENCH=projections make bench).
#   1. chronicle.append of one event to a stream covered by a projection (the
#      seed's account reducer, three typed columns) vs the same append to a
#      stream no projection covers; 2 clients, 100 streams each, which start
#      at 10 events.  No target: the figure is the price of a read model kept
#      inside the transaction (a replay of the stream and one upsert).
#   2. The same with streams of 200 events: without the snapshots module the
#      observer replays the whole stream, so the ratio falls with its length.
# Throughputs are the best of three interleaved runs.  BENCH_SECONDS
# (default 5) is the length of each pgbench run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql >/dev/null <<'SQL'
SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}', category => 'account');
SELECT count(chronicle.append(c || '-' || i, 'AccountOpened',
                              jsonb_build_object('AccountNumber', i, 'Owner', 'x', 'InitialBalance', 0)))
FROM generate_series(1, 100) i, unnest(ARRAY['account', 'plain', 'longacct', 'longplain']) c;
SELECT count(chronicle.append_batch(c || '-' || i,
       (SELECT jsonb_agg(jsonb_build_object('type', 'DepositMade', 'data', jsonb_build_object('Amount', 1)))
        FROM generate_series(1, CASE WHEN c LIKE 'long%' THEN 199 ELSE 9 END))))
FROM generate_series(1, 100) i, unnest(ARRAY['account', 'plain', 'longacct', 'longplain']) c;
SELECT chronicle.define_reducer('longacct', (SELECT rules FROM chronicle.reducers WHERE name = 'account'), category => 'longacct');
SELECT chronicle.define_projection('accounts', 'account', 'accounts',
    '{"owner": "text", "number": "int", "balance": "numeric"}');
SELECT chronicle.define_projection('longaccts', 'longacct', 'longaccts',
    '{"owner": "text", "number": "int", "balance": "numeric"}');
SQL

for c in account plain longacct longplain; do
    cat >"$tmp/$c.sql" <<EOF2
\set sid random(1, 100)
SELECT chronicle.append('$c-' || :sid, 'DepositMade', '{"Amount": 10}');
EOF2
done

read -r covered plain < <(tps_pair "$tmp/account.sql" "$tmp/plain.sql")
report "append to a projected stream (~10 events)" "$covered" "$plain" tps "" "the same append, no projection"
read -r covered_long plain_long < <(tps_pair "$tmp/longacct.sql" "$tmp/longplain.sql")
report "append to a projected stream (~200 events)" "$covered_long" "$plain_long" tps "" "the same append, no projection"
# The rows are right after the runs.
sql -t -A -c "SELECT 'stale rows: ' || count(*) FROM accounts a
              WHERE a.version <> chronicle.stream_version(a.stream_id)
                 OR a.balance <> (chronicle.replay(a.stream_id, 'account')->>'balance')::numeric"
