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


# The catalog names a projection's table (text), so a name can come to mean
# another table: a table renamed away, dropped by hand, or a schema renamed
# by its owner.  Whatever the name resolves to, chronicle writes only the
# table of the role that defined the projection, and a missing table is an
# error (42P01), never a crash.
err_proj_as() { q coord -U "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1; }
q coord -c "CREATE ROLE citus_swapper LOGIN IN ROLE chronicle_writer" -c "CREATE ROLE citus_victim LOGIN IN ROLE chronicle_writer" \
    -c "CREATE SCHEMA swap_shared AUTHORIZATION citus_swapper" -c "CREATE SCHEMA swap_own AUTHORIZATION citus_swapper" \
    -c "GRANT USAGE, CREATE ON SCHEMA swap_shared TO citus_victim" \
    -c "SELECT chronicle.define_reducer('swap_evil', '{\"\$init\": {\"balance\": 666}}', category => 'account')" >/dev/null ||
    fail "roles and schemas of the swap"
for n in coord w1 w2; do q $n -c "GRANT CREATE ON DATABASE postgres TO citus_swapper" >/dev/null; done
q coord -U citus_victim -c "SELECT chronicle.define_projection('swap_victim', 'cluster_balance', 'swap_shared.bal', '{\"balance\": \"numeric\"}')" >/dev/null ||
    fail "the victim's projection"
q coord -U citus_swapper -c "SELECT chronicle.define_projection('swap_attacker', 'swap_evil', 'swap_own.bal', '{\"balance\": \"numeric\"}')" >/dev/null ||
    fail "the swapper's projection"
victim_rows() { q coord -c "SELECT string_agg(stream_id || ':' || version || ':' || balance, ' ' ORDER BY stream_id) FROM $1"; }
victim_before=$(victim_rows swap_shared.bal)
attacker_before=$(victim_rows swap_own.bal)
check "the swapper cannot write the victim's table itself" "42501" \
    "$(err_proj_as citus_swapper "UPDATE swap_shared.bal SET balance = 666")"
# The owner of schema swap_shared swaps it with its own schema: each
# projection's name now resolves to the other's table, on every node.
q coord -U citus_swapper -c "ALTER SCHEMA swap_own RENAME TO swap_tmp" -c "ALTER SCHEMA swap_shared RENAME TO swap_own" \
    -c "ALTER SCHEMA swap_tmp RENAME TO swap_shared" >/dev/null || fail "swapping the schemas"
check "after the swap, the names resolve to the other role's table on every node" "citus_victim|citus_victim|citus_victim" \
    "$(for n in coord w1 w2; do q $n -c "SELECT c.relowner::regrole FROM pg_class c WHERE c.oid = to_regclass('swap_own.bal')"; done | paste -sd'|')"
check "an append covered by the swapped projections: 42P01 (no table of the projection's owner by that name)" "42P01" \
    "$(err coord "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}')")"
check "... the victim's table (now swap_own.bal) was not written with the swapper's reducer" "$victim_before" \
    "$(victim_rows swap_own.bal)"
check "... nor the swapper's table (now swap_shared.bal) with the victim's rows" "$attacker_before" \
    "$(victim_rows swap_shared.bal)"
check "rebuild_projection of the swapped one, by its definer or another writer: 42P01, nothing written" "42P01|42P01|$victim_before" \
    "$(err_proj_as citus_swapper "SELECT chronicle.rebuild_projection('swap_attacker')")|$(err_proj_as citus_victim "SELECT chronicle.rebuild_projection('swap_attacker')")|$(victim_rows swap_own.bal)"
check "drop_projection of the victim's projection by the swapper: 42501, the victim's row kept" "42501|1" \
    "$(err_proj_as citus_swapper "SELECT chronicle.drop_projection('swap_victim')")|$(q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'swap_victim'")"
q coord -U citus_swapper -c "ALTER SCHEMA swap_own RENAME TO swap_tmp" -c "ALTER SCHEMA swap_shared RENAME TO swap_own" \
    -c "ALTER SCHEMA swap_tmp RENAME TO swap_shared" >/dev/null || fail "swapping the schemas back"
q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}')" >/dev/null || fail "append after swapping back"
check "swapped back: appends keep both current again" "$(replayed "$a")|666" \
    "$(q coord -c "SELECT version || ':' || balance FROM swap_shared.bal WHERE stream_id = '$a'")|$(q coord -c "SELECT balance FROM swap_own.bal WHERE stream_id = '$a'")"

# A table renamed away by its owner: the name resolves to nothing.
q coord -U citus_swapper -c "ALTER TABLE swap_own.bal RENAME TO bal_away" >/dev/null || fail "renaming the swapper's table away"
check "rebuild_projection whose table no longer resolves, by another writer: 42P01, the coordinator stays up" "42P01|1" \
    "$(err_proj_as citus_victim "SELECT chronicle.rebuild_projection('swap_attacker')")|$(q coord -c "SELECT 1")"
check "... by its definer: 42P01" "42P01" "$(err_proj_as citus_swapper "SELECT chronicle.rebuild_projection('swap_attacker')")"
check "drop_projection of it by another writer: 42501, kept" "42501|1" \
    "$(err_proj_as citus_victim "SELECT chronicle.drop_projection('swap_attacker')")|$(q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'swap_attacker'")"
check "... by its definer: removed, no table dropped" "|0|swap_own.bal_away" \
    "$(q coord -U citus_swapper -c "SELECT chronicle.drop_projection('swap_attacker')")|$(q coord -c "SELECT count(*) FROM chronicle.projections WHERE name = 'swap_attacker'")|$(q coord -c "SELECT to_regclass('swap_own.bal_away')")"
q coord -U citus_victim -c "SELECT chronicle.drop_projection('swap_victim')" >/dev/null || fail "dropping the victim's projection"
q coord -c "SET client_min_messages = warning" -c "DROP SCHEMA swap_shared, swap_own CASCADE" >/dev/null
for n in coord w1 w2; do q $n -c "REVOKE CREATE ON DATABASE postgres FROM citus_swapper" >/dev/null; done
q coord -c "DROP ROLE citus_swapper, citus_victim" >/dev/null || fail "dropping the swap's roles"

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
