#!/usr/bin/env bash
# Citus suite (run by `make test`; docs/design/citus.md):
# a coordinator and two workers on loopback, each a throwaway cluster with
# shared_preload_libraries = 'citus'; chronicle.distribute(); then appends to
# streams on both workers through the coordinator (delegated calls), expected
# versions, batches, idempotent event_ids, concurrent writers, reads,
# replays, snapshots, verify (and a tampered shard), immutability on shards,
# each node's own log, and trees distributed by their scope (trees.sh).
#
# Citus has no Debian package: when its files are not installed in the
# server of pg_config, this suite prints that it was skipped and exits 77,
# which test/run.sh counts as skipped (never as passed).
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh
source test/citus/lib.sh
if ! citus_available; then
    echo "skipped: Citus is not installed in the server of $PG_CONFIG (no citus.so, citus.control)"
    exit 77
fi

install_if_needed || exit 1
work=$(chronicle_workdir)
citus_up || exit 1
check "CREATE EXTENSION chronicle beside Citus reaches both workers" "2" \
    "$(q coord -c "SELECT count(*) FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'chronicle'\$\$) WHERE success AND result <> ''")"

# ---- distribute() ------------------------------------------------------
q coord -c "SELECT chronicle.distribute(4)" || { fail "distribute() failed"; exit 1; }
check "streams, events, snapshots hash-distributed and colocated" "1|3" \
    "$(q coord -c "SELECT count(DISTINCT colocationid), count(*) FROM pg_dist_partition
                   WHERE logicalrelid IN ('chronicle.streams'::regclass, 'chronicle.events', 'chronicle.snapshots')
                     AND partmethod = 'h'")"
check "4 shards each" "4|4|4" \
    "$(q coord -c "SELECT string_agg(n::text, '|' ORDER BY r) FROM (SELECT logicalrelid::text r, count(*) n FROM pg_dist_shard
                   WHERE logicalrelid IN ('chronicle.streams'::regclass, 'chronicle.events', 'chronicle.snapshots') GROUP BY 1) s")"
check "every other table of chronicle but _tree_tables is a reference table" "chronicle._tree_tables" \
    "$(q coord -c "SELECT string_agg(c.oid::regclass::text, ',') FROM pg_class c WHERE c.relnamespace = 'chronicle'::regnamespace AND c.relkind = 'r'
                   AND NOT EXISTS (SELECT FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)")"
check "reducers, event_types, upcasters, projections, subscriptions, checkpoints, parked are reference tables" "7" \
    "$(q coord -c "SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'n' AND repmodel = 't' AND logicalrelid IN
                   ('chronicle.reducers'::regclass, 'chronicle.event_types', 'chronicle.upcasters', 'chronicle.projections',
                    'chronicle.subscriptions', 'chronicle.subscription_checkpoints', 'chronicle.parked')")"
check "unique keys of chronicle.events all hold stream_id" "events_pkey|events_stream_event_id_key" \
    "$(q coord -c "SELECT string_agg(conname, '|' ORDER BY conname) FROM pg_constraint
                   WHERE conrelid = 'chronicle.events'::regclass AND contype IN ('p', 'u')")"
check "stream-addressed functions delegated, colocated with chronicle.streams" "8" \
    "$(q coord -c "SELECT count(*) FROM pg_dist_object o JOIN pg_dist_partition p ON p.colocationid = o.colocationid
                   WHERE o.classid = 'pg_proc'::regclass AND o.distribution_argument_index = 0
                     AND p.logicalrelid = 'chronicle.streams'::regclass")"
check "distribute() again is a no-op" "" "$(err coord "SELECT chronicle.distribute()")"

# Two streams whose shards are on different workers.
node_of() {
    q coord -c "SELECT p.nodeport FROM pg_dist_shard_placement p
                WHERE p.shardid = get_shard_id_for_distribution_column('chronicle.events', '$1')"
}
# worker_of STREAM: the worker (w1 or w2) holding STREAM's shard.
worker_of() {
    local n
    for n in w1 w2; do
        [[ $(node_of "$1") == "${port[$n]}" ]] && echo $n
    done
    return 0
}
# stream_on NODE FIRST LAST: the first of account-FIRST .. account-LAST placed on NODE.
stream_on() {
    local i
    for ((i = $2; i <= $3; i++)); do
        if [[ $(node_of "account-$i") == "${port[$1]}" ]]; then
            echo "account-$i"
            return
        fi
    done
}
a=$(stream_on w1 1 40)
b=$(stream_on w2 1 40)
[[ -n $a && -n $b ]] || { fail "no streams on both workers"; exit 1; }
echo "streams: $a on w1 (${port[w1]}), $b on w2 (${port[w2]})"

# A NULL stream_id is an ordinary bad argument: Citus would crash delegating
# it (src/citus/guard.cpp keeps such calls local).
check "append(NULL, ...) through the coordinator is 22004, no crash" "22004" \
    "$(err coord "SELECT chronicle.append(NULL, 'Opened', '{}')")"
check "... as a bound NULL parameter too" "22004" \
    "$(err coord "PREPARE p(text) AS SELECT chronicle.append(\$1, 'Opened', '{}'); EXECUTE p(NULL); EXECUTE p(NULL); EXECUTE p(NULL); EXECUTE p(NULL); EXECUTE p(NULL); EXECUTE p(NULL)")"
check "read_stream(NULL) in FROM is 22004" "22004" "$(err coord "SELECT * FROM chronicle.read_stream(NULL)")"
check "replay(NULL, ...) is NULL, as on one node" "t" "$(q coord -c "SELECT chronicle.replay(NULL, 'r') IS NULL")"
check "verify() of every stream from the coordinator" "0" "$(q coord -c "SELECT count(*) FROM chronicle.verify()")"
check "the coordinator is still up" "1" "$(q coord -c "SELECT 1")"

# ---- appends through the coordinator -------------------------------------
check "append, expected_version 0" "1" "$(q coord -c "SELECT chronicle.append('$a', 'Opened', '{\"owner\": \"ann\"}', NULL, 0)")"
check "append, expected_version 1" "2" "$(q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 100}', NULL, 1)")"
check "wrong expected_version is SE001" "SE001" "$(err coord "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}', NULL, 7)")"
check "append_batch on w1's stream" "5" \
    "$(q coord -c "SELECT chronicle.append_batch('$a', '[{\"type\": \"Deposited\", \"data\": {\"amount\": 10}},
                                                  {\"type\": \"Withdrawn\", \"data\": {\"amount\": 30}},
                                                  {\"type\": \"Deposited\", \"data\": {\"amount\": 5}}]', 2)")"
check "append_batch on w2's stream, new" "2" \
    "$(q coord -c "SELECT chronicle.append_batch('$b', '[{\"type\": \"Opened\", \"data\": {\"owner\": \"bob\"}},
                                                  {\"type\": \"Deposited\", \"data\": {\"amount\": 7}}]', 0)")"
id=5c0e3a1e-6a8e-4c52-9a44-0d9e4a7b2c11
check "append with an event_id" "3" "$(q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}', NULL, NULL, '$id')")"
check "the same event_id again is a no-op" "3" "$(q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}', NULL, NULL, '$id')")"
check "the same event_id with other data is SE005" "SE005" \
    "$(err coord "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 2}', NULL, NULL, '$id')")"
check "batch repeating a stored event_id" "4" \
    "$(q coord -c "SELECT chronicle.append_batch('$b', '[{\"type\": \"Deposited\", \"data\": {\"amount\": 1}, \"event_id\": \"$id\"},
                                                  {\"type\": \"Deposited\", \"data\": {\"amount\": 2}}]')")"
check "on Citus an event_id is unique within its stream: the same id in another stream" "6" \
    "$(q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}', NULL, NULL, '$id')")"

check "stream_version through the coordinator" "6|4" \
    "$(q coord -c "SELECT chronicle.stream_version('$a') || '|' || chronicle.stream_version('$b')")"
check "read_stream through the coordinator" "1:Opened 2:Deposited 3:Deposited 4:Withdrawn 5:Deposited 6:Deposited" \
    "$(q coord -c "SELECT string_agg(version || ':' || type, ' ' ORDER BY version) FROM chronicle.read_stream('$a')")"
check "read_stream backward, 2" "4 3" \
    "$(q coord -c "SELECT string_agg(version::text, ' ') FROM chronicle.read_stream('$b', NULL, 2, true)")"

# Rows live in the workers' shards only: every shell table is empty.
for n in coord w1 w2; do
    check "no row in $n's shell tables" "0|0|0" \
        "$(q $n -c "SELECT pg_relation_size('chronicle.events') || '|' || pg_relation_size('chronicle.streams') || '|' || pg_relation_size('chronicle.snapshots')")"
done
# Each node's log is its own: global_position comes from the sequence of the
# node that holds the stream (the coordinator's was never used).
check "coordinator's global_position_seq unused" "f" "$(q coord -c "SELECT is_called FROM chronicle.global_position_seq")"
check "w1's sequence numbered the events of $a" "6" "$(q w1 -c "SELECT last_value FROM chronicle.global_position_seq")"
check "w2's sequence numbered the events of $b" "4" "$(q w2 -c "SELECT last_value FROM chronicle.global_position_seq")"

# Inside a transaction block Citus does not delegate: an append there is
# refused on the coordinator (its tx_id would not be the worker's).
check "append inside a transaction block on the coordinator: 0A000" "0A000" \
    "$(err coord "BEGIN; SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}'); COMMIT;")"
# On the worker itself, inside a transaction block: the direct path.
check "append on the worker in a transaction block" "7" \
    "$(q w1 -c "BEGIN" -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 3}')" -c "COMMIT")"
# A worker has Citus's metadata too: it delegates a call for another
# worker's stream there, and refuses it inside a transaction block.
check "a worker delegates a stream it does not hold" "5" \
    "$(q w1 -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}')")"
check "... and refuses it inside a transaction block" "0A000" \
    "$(err w1 "BEGIN; SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}'); COMMIT;")"

# ---- replay, snapshots ------------------------------------------------
q coord -c "SELECT chronicle.define_reducer('balance', '{\"\$init\": {\"balance\": 0},
    \"Deposited\": {\"add\": {\"balance\": \"\$.amount\"}},
    \"Withdrawn\": {\"sub\": {\"balance\": \"\$.amount\"}}}')" >/dev/null ||
    fail "define_reducer on the coordinator"
check "replay of w1's stream" '{"balance": 89}' "$(q coord -c "SELECT chronicle.replay('$a', 'balance')")"
check "replay of w2's stream" '{"balance": 11}' "$(q coord -c "SELECT chronicle.replay('$b', 'balance')")"
check "replay as_of_version" '{"balance": 110}' "$(q coord -c "SELECT chronicle.replay('$a', 'balance', 3)")"
check "take_snapshot" "7" "$(q coord -c "SELECT chronicle.take_snapshot('$a', 'balance')")"
check "the snapshot is in w1's shard" "1" \
    "$(q coord -c "SELECT count(*) FROM chronicle.snapshots WHERE stream_id = '$a'")"
q coord -c "SELECT chronicle.append('$a', 'Withdrawn', '{\"amount\": 9}')" >/dev/null
check "replay from the snapshot on" '{"balance": 80}' "$(q coord -c "SELECT chronicle.replay('$a', 'balance')")"

check "fold over read_stream's rows" '{"balance": 80}' \
    "$(q coord -c "SELECT chronicle.fold('balance', e ORDER BY e.version) FROM chronicle.read_stream('$a') e")"
# Projections on the cluster: test/citus/projections.sh.

# ---- concurrent writers to one stream (through the coordinator) --------
for w in 1 2; do
    (for i in $(seq 1 25); do
        q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}')" >/dev/null || echo "writer $w failed"
    done) &
done
wait
# (Two statements: a delegated function called inside a query on a
# distributed table would run on the shard, where Citus forbids its SQL.)
check "two concurrent writers: 50 more versions, none lost" "55|55|1..55" \
    "$(q coord -c "SELECT chronicle.stream_version('$b')")|$(q coord -c "SELECT count(*) || '|' || min(version) || '..' || max(version)
                   FROM chronicle.events WHERE stream_id = '$b'")"

# ---- each node's log: read_all on a worker, read_all_nodes, out-of-order commits
events_on() { # the events of the streams placed on node $1 (through the coordinator)
    q coord -c "SELECT count(*) FROM chronicle.events e WHERE (SELECT p.nodeport FROM pg_dist_shard_placement p
                WHERE p.shardid = get_shard_id_for_distribution_column('chronicle.events', e.stream_id)) = ${port[$1]}"
}
for n in w1 w2; do
    check "read_all on $n returns $n's log: its own events" "$(events_on $n)" \
        "$(q $n -c "SELECT count(*) FROM chronicle.read_all('0', 0, 100000)")"
done
check "read_all on the coordinator (no shard there) is 0A000" "0A000" "$(err coord "SELECT * FROM chronicle.read_all()")"
check "read_all_nodes: every event of the cluster, once" "$(q coord -c "SELECT count(*) FROM chronicle.events")|0" \
    "$(q coord -c "SELECT count(*) || '|' || (count(*) - count(DISTINCT (stream_id, version))) FROM chronicle.read_all_nodes('{}', 100000)")"
check "read_all_nodes: each node's part in its (tx_id, global_position) order" "0" \
    "$(q coord -c "SELECT count(*) FROM (SELECT node, tx_id, global_position, lag(tx_id) OVER w AS ptx, lag(global_position) OVER w AS ppos
                   FROM (SELECT row_number() OVER () AS i, * FROM chronicle.read_all_nodes('{}', 100000)) r WINDOW w AS (PARTITION BY node ORDER BY i)) x
                   WHERE ptx IS NOT NULL AND (tx_id, global_position) <= (ptx, ppos)")"

# A second stream on each worker.
a2=$(stream_on w1 41 120)
b2=$(stream_on w2 41 120)
cursor=$(q coord -c "SELECT \"cursor\" FROM chronicle.read_all_nodes('{}', 100000) ORDER BY node DESC, tx_id DESC, global_position DESC LIMIT 1")
# On each worker a transaction appends first and stays open (fifo-fed psql),
# then an append to the other stream of that worker commits.
hold_pids=()
for n in w1 w2; do
    s=$a
    [[ $n == w2 ]] && s=$b
    rm -f "$work/hold-$n" "$work/hold-$n.ready"
    at_exit rm -f "$work/hold-$n" "$work/hold-$n.ready" "$work/hold-$n.out"
    mkfifo "$work/hold-$n"
    chmod a+rw "$work/hold-$n"
    q $n <"$work/hold-$n" >"$work/hold-$n.out" 2>&1 &
    hold_pids+=($!)
done
exec 7>"$work/hold-w1" 8>"$work/hold-w2"
echo "BEGIN; SELECT chronicle.append('$a', 'Held', '{}');" >&7
echo "\\! touch $work/hold-w1.ready" >&7
echo "BEGIN; SELECT chronicle.append('$b', 'Held', '{}');" >&8
echo "\\! touch $work/hold-w2.ready" >&8
while [[ ! -e $work/hold-w1.ready || ! -e $work/hold-w2.ready ]]; do sleep 0.1; done
q coord -c "SELECT chronicle.append('$a2', 'Late', '{}')" >/dev/null
q coord -c "SELECT chronicle.append('$b2', 'Late', '{}')" >/dev/null
check "committed after an open transaction began: held back on both nodes" "0" \
    "$(q coord -c "SELECT count(*) FROM chronicle.read_all_nodes('$cursor', 100)")"
echo "COMMIT;" >&7
echo "COMMIT;" >&8
exec 7>&- 8>&-
wait "${hold_pids[@]}"
check "after the out-of-order commits, the same cursor returns all four, each node in tx order" \
    "$a:Held $a2:Late $b:Held $b2:Late" \
    "$(q coord -c "SELECT string_agg(stream_id || ':' || type, ' ' ORDER BY node, tx_id, global_position)
                   FROM chronicle.read_all_nodes('$cursor', 100)")"
next=$(q coord -c "SELECT \"cursor\" FROM chronicle.read_all_nodes('$cursor', 100) ORDER BY node DESC, tx_id DESC LIMIT 1")
check "the last row's cursor reads nothing more" "0" "$(q coord -c "SELECT count(*) FROM chronicle.read_all_nodes('$next', 100)")"

# The coordinator holds no shard, so it has no log to poll (poll_nodes:
# test/citus/subscriptions.sh).
check "poll on the coordinator of a distributed store is 0A000" "0A000" "$(err coord "SELECT * FROM chronicle.poll('no-such-subscription')")"

# ---- trees by scope: test/citus/trees.sh --------------------------------------
source test/citus/trees.sh

# A tree that stays on the coordinator (not distributed) works as on one node.
q coord -c "CREATE TABLE bulk_cats (id int PRIMARY KEY, parent_id int, shop text NOT NULL, name text)" >/dev/null
q coord -c "SELECT chronicle.tree_attach('bulk_cats', scope_column => 'shop')" >/dev/null || fail "tree_attach on the coordinator"
# The trees' bulk-load plan node (src/tree/prenumber.cpp) under Citus's
# planner hook.  A backend plans it once chronicle's library is loaded there
# (LOAD: the INSERT above was its connection's first statement, planned
# without it).  New trees are stored with their numbers, also when their rows
# come from a distributed table (Citus pulls them to the coordinator).
check "bulk INSERT into a tree on the coordinator is planned with chronicle's node beside Citus's" \
    "Custom Scan (chronicle tree numbers)" \
    "$(q coord -c "LOAD 'chronicle'" -c "EXPLAIN (COSTS OFF) INSERT INTO bulk_cats VALUES (10, NULL, 'c', 'r'), (11, 10, 'c', 'k')" |
        grep -o 'Custom Scan (chronicle tree numbers)')"
q coord -c "LOAD 'chronicle'" -c "INSERT INTO bulk_cats VALUES (10, NULL, 'c', 'r'), (11, 10, 'c', 'k')" \
    -c "INSERT INTO bulk_cats SELECT 100 + v, CASE WHEN v > 1 THEN 101 END, 'd', type
          FROM (SELECT row_number() OVER (ORDER BY global_position) AS v, type
                  FROM chronicle.events ORDER BY global_position LIMIT 4) e" >/dev/null ||
    fail "bulk INSERT of new trees into a tree on the coordinator"
check "an INSERT of new trees from a distributed table: chronicle's node over Citus's scan" \
    "Custom Scan (chronicle tree numbers)|Custom Scan (Citus Adaptive)" \
    "$(q coord -c "LOAD 'chronicle'" -c "EXPLAIN (COSTS OFF) INSERT INTO bulk_cats SELECT 200 + v, NULL, 'e', type
          FROM (SELECT row_number() OVER (ORDER BY global_position) AS v, type
                  FROM chronicle.events ORDER BY global_position LIMIT 4) e" |
        grep -o 'Custom Scan ([A-Za-z ]*)' | head -2 | paste -sd'|')"
check "new trees on the coordinator, from a VALUES list and from a distributed table: numbered, valid" \
    "c:10:1-4 c:11:2-3 d:101:1-8 d:102:2-3 d:103:4-5 d:104:6-7|0" \
    "$(q coord -c "SELECT string_agg(shop || ':' || id || ':' || lft || '-' || rgt, ' ' ORDER BY shop, lft) FROM bulk_cats WHERE shop IN ('c', 'd')" |
        tr -d '\n')|$(q coord -c "SELECT count(*) FROM chronicle.tree_validate('bulk_cats')")"

# ---- verify, immutability -----------------------------------------------
check "verify of each stream: intact" "0|0" \
    "$(q coord -c "SELECT (SELECT count(*) FROM chronicle.verify('$a')) || '|' || (SELECT count(*) FROM chronicle.verify('$b'))")"
check "UPDATE of events on a shard is SE002" "SE002" "$(err coord "UPDATE chronicle.events SET type = 'X' WHERE stream_id = '$a'")"
check "DELETE of events on a shard is SE002" "SE002" "$(err coord "DELETE FROM chronicle.events WHERE stream_id = '$a'")"
shard=$(q coord -c "SELECT shard_name('chronicle.events', get_shard_id_for_distribution_column('chronicle.events', '$a'))")
q w1 -c "SET session_replication_role = replica" -c "SET citus.enable_manual_changes_to_shards = on" \
    -c "UPDATE $shard SET data = '{\"amount\": 1000}' WHERE stream_id = '$a' AND version = 2" >/dev/null ||
    fail "tampering with $shard on w1"
check "verify finds the superuser's edit on the shard" "$a|2" \
    "$(q coord -c "SELECT stream_id || '|' || version FROM chronicle.verify('$a') ORDER BY version LIMIT 1")"

# ---- DCB (docs/reference/dcb.md) on a cluster: read_query per node, append_events refused
check "append with tags (delegated)" "57" \
    "$(q coord -c "SELECT chronicle.append('$b', 'Tagged', '{}', NULL, NULL, NULL, ARRAY['tag:x'])")"
check "read_query on the worker holding it: its own log" "1|0" \
    "$(q w2 -c "SELECT count(*) FROM chronicle.read_query('{\"items\": [{\"tags\": [\"tag:x\"]}]}')")|$(q w1 -c "SELECT count(*) FROM chronicle.read_query('{\"items\": [{\"tags\": [\"tag:x\"]}]}')")"
check "read_all_nodes carries the tags and original_digest of the event" "{tag:x}|\\x" \
    "$(q coord -c "SELECT tags::text || '|' || original_digest::text FROM chronicle.read_all_nodes('{}', 100000) WHERE stream_id = '$b' AND version = 57")"
check "read_all_nodes: after node and cursor, the columns of chronicle.events (read_all's result) in order" "t" \
    "$(q coord -c "SELECT (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                           WHERE attrelid = 'chronicle.events'::regclass AND attnum > 0 AND NOT attisdropped)
                        = (SELECT string_agg(u.n, ',' ORDER BY u.i) FROM unnest(p.proargnames, p.proargmodes) WITH ORDINALITY u(n, m, i)
                           WHERE u.m = 't' AND u.n NOT IN ('node', 'cursor'))
                   FROM pg_proc p WHERE p.oid = 'chronicle.read_all_nodes(jsonb,int,text,text[])'::regprocedure")"
check "read_query on the coordinator (no shard there) is 0A000" "0A000" \
    "$(err coord "SELECT * FROM chronicle.read_query('{\"items\": [{\"tags\": [\"tag:x\"]}]}')")"
check "append_events (conditions over the whole log) is refused on a cluster: 0A000" "0A000" \
    "$(err coord "SELECT * FROM chronicle.append_events('[{\"stream_id\": \"$a\", \"type\": \"X\", \"data\": {}}]', '{\"items\": [{\"tags\": [\"tag:x\"]}]}')")"

# ---- erasure on the cluster: test/citus/erasure.sh (ledger digests stay 0A000)
source test/citus/erasure.sh
source test/citus/erasure_splits.sh

# ---- projections, NOTIFY and subscriptions on the cluster (subscriptions.sh
# recreates the extension at its end: last)
source test/citus/sessions.sh
source test/citus/projections.sh
source test/citus/notify.sh
source test/citus/subscriptions.sh

checks_done
