# Projections on a Citus cluster (docs/design/citus.md, "Projections on a
# cluster"): the table distributed beside chronicle.streams, filled stream by
# stream, kept by the observers on the workers, also in sessions that began
# before it was defined; define waits for appends in flight on the workers;
# rebuild and drop.  And the definition caches of long-lived worker sessions
# (event types) follow a change made on the coordinator.  Sourced by
# test/citus/suite.sh (q, err, check, port, work, $a/$a2 on w1, $b/$b2 on w2;
# the session helpers of test/citus/sessions.sh).

# the projection's row of a stream, and what a replay says it should be
row_of() { q coord -c "SELECT version || ':' || balance FROM public.cluster_balances WHERE stream_id = '$1'"; }
replayed() { q coord -c "SELECT chronicle.stream_version('$1') || ':' || (chronicle.replay('$1', 'cluster_balance') ->> 'balance')"; }

q coord -c "SELECT chronicle.define_reducer('cluster_balance', '{\"\$init\": {\"balance\": 0},
    \"Deposited\": {\"add\": {\"balance\": \"\$.amount\"}},
    \"Withdrawn\": {\"sub\": {\"balance\": \"\$.amount\"}}}', category => 'account')" >/dev/null ||
    fail "define_reducer cluster_balance"

# A worker session that appends before the projection exists (its backend
# has loaded the empty list), and a transaction on w2 left open over define.
session_open w1
session_send w1 "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}');"
hold_open w2 "$b2" Deposited
define_out="$work/define-projection.out"
at_exit rm -f "$define_out"
q coord -c "SELECT chronicle.define_projection('cluster_balances', 'cluster_balance', 'public.cluster_balances',
                                               '{\"balance\": \"numeric\"}')" >"$define_out" 2>&1 &
define_pid=$!
# define waits for the open append: on w2, for the lock on chronicle.events.
for i in $(seq 1 300); do
    [[ $(q w2 -c "SELECT count(*) FROM pg_locks WHERE relation = 'chronicle.events'::regclass AND NOT granted") != 0 ]] && break
    sleep 0.1
done
check "define_projection waits for an append in flight on a worker" "1|running" \
    "$(q w2 -c "SELECT count(*) FROM pg_locks WHERE relation = 'chronicle.events'::regclass AND NOT granted")|$(kill -0 $define_pid 2>/dev/null && echo running)"
hold_commit w2
wait $define_pid
check "define_projection on the cluster" "cluster_balances" "$(cat "$define_out")"
check "the table is distributed by stream_id, colocated with chronicle.streams" "2|1" \
    "$(q coord -c "SELECT count(*) FILTER (WHERE partmethod = 'h') || '|' || count(DISTINCT colocationid) FROM pg_dist_partition
                   WHERE logicalrelid IN ('public.cluster_balances'::regclass, 'chronicle.streams')")"
check "it has no rows in the coordinator's shell" "0" "$(q coord -c "SELECT pg_relation_size('public.cluster_balances')")"
check "filled: a row per stream of the category, each as replay says" \
    "$(q coord -c "SELECT count(*) FROM chronicle.streams WHERE category = 'account'")|0" \
    "$(q coord -c "SELECT count(*) FROM public.cluster_balances")|$(for s in $(q coord -c "SELECT stream_id FROM chronicle.streams WHERE category = 'account'"); do
        [[ $(row_of "$s") == "$(replayed "$s")" ]] || echo "$s"; done | wc -l)"
check "the append held over define is in its row" "$(replayed "$b2")" "$(row_of "$b2")"
check "readers may read it" "t" "$(q coord -c "SELECT has_table_privilege('chronicle_reader', 'public.cluster_balances', 'SELECT')")"

# Appends on both workers keep it current: through the coordinator, and in
# the worker session that began before the projection was defined.
q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 40}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Withdrawn', '{\"amount\": 3}')" >/dev/null
session_send w1 "SELECT chronicle.append('$a2', 'Deposited', '{\"amount\": 500}');"
for s in "$a" "$b" "$a2"; do
    check "kept current by appends on its worker: $s" "$(replayed "$s")" "$(row_of "$s")"
done
check "a new stream gets its row" "1:9" \
    "$(q coord -c "SELECT chronicle.append('account-cluster-new', 'Deposited', '{\"amount\": 9}')" >/dev/null; row_of account-cluster-new)"
check "streams of another category get none" "0" \
    "$(q coord -c "SELECT chronicle.append('order-cluster-1', 'Deposited', '{\"amount\": 9}')" >/dev/null
       q coord -c "SELECT count(*) FROM public.cluster_balances WHERE stream_id = 'order-cluster-1'")"

# rebuild replaces the rows (here after they were changed by hand).
q coord -c "UPDATE public.cluster_balances SET balance = -1" >/dev/null
check "rebuild_projection: a row per stream" "$(q coord -c "SELECT count(*) FROM chronicle.streams WHERE category = 'account'")" \
    "$(q coord -c "SELECT chronicle.rebuild_projection('cluster_balances')")"
check "... each as replay says" "0" \
    "$(for s in $(q coord -c "SELECT stream_id FROM chronicle.streams WHERE category = 'account'"); do
        [[ $(row_of "$s") == "$(replayed "$s")" ]] || echo "$s"; done | wc -l)"

check "distribute() again, with a projection, is still a no-op" "" "$(err coord "SELECT chronicle.distribute()")"

# A projection defined by a role that is not chronicle's owner, in one
# transaction (before: 42P01 on a worker, the catalog row's regclass
# resolved in a connection of chronicle's owner that could not see the
# caller's new table; docs/design/citus.md).
q coord -c "CREATE ROLE citus_projector LOGIN IN ROLE chronicle_writer" \
    -c "CREATE SCHEMA citus_proj AUTHORIZATION citus_projector" >/dev/null || fail "role citus_projector"
check "on a cluster the catalog names a projection's table by its qualified name" "text|public.cluster_balances" \
    "$(q coord -c "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'chronicle.projections'::regclass AND attname = 'table_name'")|$(q coord -c "SELECT table_name FROM chronicle.projections WHERE name = 'cluster_balances'")"
check "define_projection by a non-superuser on the distributed store, in one transaction with an append after it" \
    "citus_proj.\"Role's balances\"" \
    "$(q coord -U citus_projector -c "BEGIN" \
         -c "SELECT chronicle.define_projection('by_role', 'cluster_balance', 'citus_proj.\"Role''s balances\"', '{\"balance\": \"numeric\"}')" \
         -c "COMMIT" 2>&1)"
role_row() { q coord -c "SELECT version || ':' || balance FROM citus_proj.\"Role's balances\" WHERE stream_id = '$1'"; }
check "... owned by the role, distributed beside the streams" "citus_projector|h" \
    "$(q coord -c "SELECT c.relowner::regrole::text || '|' || p.partmethod::text FROM pg_class c JOIN pg_dist_partition p ON p.logicalrelid = c.oid
                   WHERE c.oid = 'citus_proj.\"Role''s balances\"'::regclass")"
check "... filled: a row per stream of the category, each as replay says" \
    "$(q coord -c "SELECT count(*) FROM chronicle.streams WHERE category = 'account'")|0" \
    "$(q coord -c "SELECT count(*) FROM citus_proj.\"Role's balances\"")|$(for s in $(q coord -c "SELECT stream_id FROM chronicle.streams WHERE category = 'account'"); do
        [[ $(role_row "$s") == "$(replayed "$s")" ]] || echo "$s"; done | wc -l)"
for n in w1 w2; do
    check "... its catalog row resolves to the table on $n" "citus_proj.\"Role's balances\"" \
        "$(q $n -c "SELECT to_regclass(table_name) FROM chronicle.projections WHERE name = 'by_role'")"
done
q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 7}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 8}')" >/dev/null
for s in "$a" "$b"; do
    check "... kept current by appends on its worker: $s" "$(replayed "$s")" "$(role_row "$s")"
done
check "... rebuilt and dropped by the role" "$(q coord -c "SELECT count(*) FROM chronicle.streams WHERE category = 'account'")|" \
    "$(q coord -U citus_projector -c "SELECT chronicle.rebuild_projection('by_role')")|$(q coord -U citus_projector -c "SELECT chronicle.drop_projection('by_role')")"
check "... gone from the catalog, its table from every node" "0|||" \
    "$(q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'by_role'")|$(for n in coord w1 w2; do
        q $n -c "SELECT to_regclass('citus_proj.\"Role''s balances\"')"; echo -n '|'; done | tr -d '\n' | sed 's/|$//')"
check "a define rolled back leaves nothing on any node" "0|||" \
    "$(q coord -U citus_projector -c "BEGIN" \
         -c "SELECT chronicle.define_projection('by_role_rb', 'cluster_balance', 'citus_proj.rb', '{\"balance\": \"numeric\"}')" \
         -c "ROLLBACK" >/dev/null
       q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'by_role_rb'")|$(for n in coord w1 w2; do
        q $n -c "SELECT to_regclass('citus_proj.rb')"; echo -n '|'; done | tr -d '\n' | sed 's/|$//')"
check "a role without CREATE on the schema: 42501, nothing recorded" "42501|0" \
    "$(err_as_p() { q coord -U "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1; }
       q coord -c "CREATE ROLE citus_projector2 LOGIN IN ROLE chronicle_writer" >/dev/null
       err_as_p citus_projector2 "SELECT chronicle.define_projection('by_role2', 'cluster_balance', 'citus_proj.other', '{\"balance\": \"numeric\"}')")|$(q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'by_role2'")"

# drop: the table goes on every node, and the old worker session appends on.
q coord -c "SELECT chronicle.drop_projection('cluster_balances')" >/dev/null || fail "drop_projection on the cluster"
check "drop_projection drops the distributed table" "" "$(q coord -c "SELECT to_regclass('public.cluster_balances')")"
session_send w1 "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 2}');"

# A long-lived worker session follows a new event type defined on the
# coordinator (the trigger on the reference table's placement invalidates
# the table's cache there).
q coord -c "SELECT chronicle.define_event_type('ClusterChecked', '{\"type\": \"object\", \"required\": [\"by\"]}')" >/dev/null ||
    fail "define_event_type on the coordinator"
session_send w1 "SELECT chronicle.append('$a', 'ClusterChecked', '{}');"
session_close w1
check "the old worker session kept appending, then refused the event the new type forbids" "1|1|3" \
    "$(grep -c '^ERROR' "$work/session-w1.out")|$(grep -c '^ERROR:  SE003' "$work/session-w1.out")|$(grep -c '^[0-9]*$' "$work/session-w1.out")"
