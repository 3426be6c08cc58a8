#!/usr/bin/env bash
# bench_citus: append throughput on a Citus cluster (BENCH=citus make bench):
# a coordinator and two workers on loopback (test/citus/lib.sh), 100 streams
# on each worker.  pgbench, 2 clients, chronicle.append of one event:
#   - through the coordinator: the call is delegated to the stream's worker
#     (one round trip coordinator -> worker per append), streams of both workers;
#   - baseline: the same appends sent directly to one worker, to its own streams.
# Reported only (no target): this machine has 2 cores for all three servers and
# pgbench.  Skipped when Citus is not installed.  It starts its own clusters and
# ignores the bench database run.sh gives it.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source test/citus/lib.sh
if ! citus_available; then
    echo "   skipped: Citus is not installed"
    exit 0
fi
install_if_needed >/dev/null || exit 1
citus_up "synchronous_commit = off" "autovacuum = off" >/dev/null || exit 1

q coord -c "SELECT chronicle.distribute(4)" >/dev/null || exit 1
# 100 streams per worker, created before the runs (steady-state appends).
q coord -c "CREATE TABLE bench_streams AS
    SELECT 'account-' || i AS stream_id, p.nodeport AS port
      FROM generate_series(1, 1000) i
      JOIN pg_dist_shard_placement p ON p.shardid = get_shard_id_for_distribution_column('chronicle.events', 'account-' || i)" || exit 1
for n in w1 w2; do
    q coord -t -A -c "SELECT stream_id FROM bench_streams WHERE port = ${port[$n]} ORDER BY stream_id LIMIT 100" >"$tmp/$n.streams"
    while read -r s; do
        q coord -c "SELECT chronicle.append('$s', 'Opened', '{\"owner\": \"x\"}')" >/dev/null
    done <"$tmp/$n.streams"
done
# pgbench scripts: a random stream of the given list.
script() { # NAME STREAMFILE...
    local name=$1
    shift
    local list
    list=$(cat "$@" | sed "s/.*/'&'/" | paste -sd,)
    local count
    count=$(cat "$@" | wc -l)
    {
        echo "\\set i random(1, $count)"
        echo "SELECT chronicle.append((ARRAY[$list])[:i], 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}');"
    } >"$tmp/$name.sql"
}
script coord_both "$tmp/w1.streams" "$tmp/w2.streams"
script w1_own "$tmp/w1.streams"
# The array in the coordinator's statement would make Citus evaluate it there
# and still delegate (the argument is a constant after evaluation); checked:
q coord -c "EXPLAIN (COSTS OFF) SELECT chronicle.append((ARRAY['$(head -1 "$tmp/w1.streams")'])[1], 'X', '{}')" | head -3

pg() { # NODE SCRIPT
    PGHOST=127.0.0.1 PGPORT=${port[$1]} PGUSER=postgres PGDATABASE=postgres tps "$tmp/$2.sql" 2 "$seconds"
}
best_c=0 best_w=0
for round in 1 2 3; do
    c=$(pg coord coord_both)
    w=$(pg w1 w1_own)
    ((${c:-0} > best_c)) && best_c=$c
    ((${w:-0} > best_w)) && best_w=$w
done
report "append via coordinator (delegated), 2 clients" "$best_c" "$best_w" tps "" \
    "baseline: appends sent directly to a worker"
check_total=$(q coord -c "SELECT count(*) FROM chronicle.events")
echo "   events appended in total: $check_total"
