# Subscriptions on a Citus cluster (docs/design/citus.md, "Subscriptions on a
# cluster"): a checkpoint per node and member, poll_nodes on the coordinator,
# poll on a worker, ack with the row's node, and "never skips" under
# out-of-order commits on both workers while a subscriber polls and acks.
# Sourced by test/citus/suite.sh after its own checks (q, err, check, port,
# work and the streams $a/$a2 on w1, $b/$b2 on w2 come from there; hold_open
# and hold_commit from test/citus/sessions.sh).  Its last part recreates the
# extension: keep it the last section of the suite.

g1=$(q coord -c "SELECT groupid FROM pg_dist_node WHERE nodeport = ${port[w1]}")
g2=$(q coord -c "SELECT groupid FROM pg_dist_node WHERE nodeport = ${port[w2]}")
echo "subscriptions: w1 is node $g1, w2 is node $g2"

# err_as NODE ROLE SQL: err, logged in as ROLE.
err_as() {
    q "$1" -U "$2" -v VERBOSITY=sqlstate -c "$3" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
}

# ack_page SUBSCRIPTION ROWS: ack the last row of each node in ROWS
# (node|tx_id|global_position|... lines, each node's rows in its log order).
ack_page() {
    local sub=$1 rows=$2 node tx pos
    while IFS='|' read -r node tx pos; do
        q coord -c "SELECT chronicle.ack('$sub', '$tx', $pos, node => $node)" >/dev/null || fail "ack $sub $node $tx $pos"
    done < <(awk -F'|' 'NF > 2 { last[$1] = $1 "|" $2 "|" $3 } END { for (n in last) print last[n] }' <<<"$rows")
}

check "subscription_checkpoints keyed by subscription, member and node" "PRIMARY KEY (subscription, member, node)" \
    "$(q coord -c "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'chronicle.subscription_checkpoints'::regclass AND contype = 'p'")"
check "the log's nodes are the two workers" "$g1,$g2" "$(q coord -c "SELECT string_agg(node::text, ',' ORDER BY node) FROM chronicle._log_nodes()")"

# ---- every event once, each row with its node ------------------------------
q coord -c "SELECT chronicle.subscribe('cluster-all')" >/dev/null || fail "subscribe on the coordinator"
total=$(q coord -c "SELECT count(*) FROM chronicle.events")
check "poll_nodes from the start: every event of the cluster once" "$total|$total" \
    "$(q coord -c "SELECT count(*) || '|' || count(DISTINCT (stream_id, version)) FROM chronicle.poll_nodes('cluster-all', 100000)")"
check "poll_nodes' columns after node are chronicle.events' in its order (original_digest last, as poll and read_all_nodes)" \
    "$(q coord -c "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'chronicle.events'::regclass AND attnum > 0 AND NOT attisdropped")" \
    "$(q coord -c "SELECT array_to_string(proargnames[6:], ',') FROM pg_proc WHERE oid = 'chronicle.poll_nodes(text, int, int, int)'::regprocedure")"
check "each row of poll_nodes is its event's row, redacted ones with their original_digest" "0|true" \
    "$(q coord -c "WITH p AS MATERIALIZED (SELECT * FROM chronicle.poll_nodes('cluster-all', 100000))
                   SELECT count(*) FILTER (WHERE (p.global_position, p.event_id, p.type, p.type_version, p.data, p.metadata, p.recorded_at,
                                                  p.tx_id, p.hash, p.tags, p.original_digest)
                                           IS DISTINCT FROM (e.global_position, e.event_id, e.type, e.type_version, e.data, e.metadata,
                                                             e.recorded_at, e.tx_id, e.hash, e.tags, e.original_digest))
                          || '|' || (count(*) FILTER (WHERE p.original_digest <> '\\x') > 0)
                     FROM p JOIN chronicle.events e ON e.stream_id = p.stream_id AND e.version = p.version")"
check "each row's node is the node holding its stream" "0" \
    "$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('cluster-all', 100000) p
                   WHERE p.node <> (SELECT pl.groupid FROM pg_dist_placement pl
                                    WHERE pl.shardid = get_shard_id_for_distribution_column('chronicle.events', p.stream_id))")"
check "each node's rows in its (tx_id, global_position) order" "0" \
    "$(q coord -c "SELECT count(*) FROM (SELECT node, tx_id, global_position, lag(tx_id) OVER w AS ptx, lag(global_position) OVER w AS ppos
                   FROM (SELECT row_number() OVER () AS i, * FROM chronicle.poll_nodes('cluster-all', 100000)) r
                   WINDOW w AS (PARTITION BY node ORDER BY i)) x
                   WHERE ptx IS NOT NULL AND (tx_id, global_position) <= (ptx, ppos)")"
check "max_count is per node" "3|3" \
    "$(q coord -c "SELECT count(*) FILTER (WHERE node = $g1) || '|' || count(*) FILTER (WHERE node = $g2) FROM chronicle.poll_nodes('cluster-all', 3)")"
check "poll on the coordinator (no shard there) is 0A000: use poll_nodes" "0A000" \
    "$(err coord "SELECT * FROM chronicle.poll('cluster-all')")"
w1_events=$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('cluster-all', 100000) WHERE node = $g1")
check "poll on w1: w1's log only" "$w1_events|0" \
    "$(q w1 -c "SELECT count(*) || '|' || count(*) FILTER (WHERE chronicle._stream_node(stream_id) <> $g1) FROM chronicle.poll('cluster-all', 100000)")"

# ack on w1 without a node: w1's checkpoint; w2's part is untouched.
last_w1=$(q w1 -F ',' -c "SELECT tx_id, global_position FROM chronicle.poll('cluster-all', 100000) ORDER BY tx_id DESC, global_position DESC LIMIT 1")
q w1 -c "SELECT chronicle.ack('cluster-all', '${last_w1%,*}', ${last_w1#*,})" >/dev/null || fail "ack on w1"
check "ack on w1 without a node: a checkpoint for node $g1 only" "0|$g1|${last_w1%,*}|${last_w1#*,}" \
    "$(q coord -c "SELECT member || '|' || node || '|' || tx_id || '|' || global_position FROM chronicle.subscription_checkpoints WHERE subscription = 'cluster-all'")"
check "after it, poll_nodes returns w2's part only" "0|$((total - w1_events))" \
    "$(q coord -c "SELECT count(*) FILTER (WHERE node = $g1) || '|' || count(*) FILTER (WHERE node = $g2) FROM chronicle.poll_nodes('cluster-all', 100000)")"
check "subscription_status: a row per node, lag 0 on $g1" "$g1:0 $g2:$((total - w1_events))" \
    "$(q coord -c "SELECT string_agg(node || ':' || lag, ' ' ORDER BY node) FROM chronicle.subscription_status WHERE name = 'cluster-all'")"

# ack's node: one holding shards; the position below that node's horizon.
check "ack with node 0 (the coordinator, no shards) is 22023" "22023" \
    "$(err coord "SELECT chronicle.ack('cluster-all', '${last_w1%,*}', ${last_w1#*,})")"
check "ack with an unknown node is 22023" "22023" \
    "$(err coord "SELECT chronicle.ack('cluster-all', '1', 1, node => 99)")"
check "ack past node $g2's horizon is 22023" "22023" \
    "$(err coord "SELECT chronicle.ack('cluster-all', '4000000000', 1, node => $g2)")"
checkpoints_of() {
    q coord -c "SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member, c.node) FROM chronicle.subscription_checkpoints c
                WHERE c.subscription = '$1'"
}
before_acks=$(checkpoints_of cluster-all)
check "on a worker too: an ack naming node 0, an unknown node or a negative one is 22023" "22023|22023|22023" \
    "$(err w1 "SELECT chronicle.ack('cluster-all', '3', 1, node => 0)")|$(err w1 "SELECT chronicle.ack('cluster-all', '3', 1, node => 99)")|$(err w2 "SELECT chronicle.ack('cluster-all', '3', 1, node => -1)")"
check "... the refused acks wrote nothing, on any node's placement" "$before_acks|$before_acks|$before_acks" \
    "$(checkpoints_of cluster-all)|$(q w1 -c "SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member, c.node) FROM chronicle.subscription_checkpoints c WHERE c.subscription = 'cluster-all'")|$(q w2 -c "SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member, c.node) FROM chronicle.subscription_checkpoints c WHERE c.subscription = 'cluster-all'")"

# ---- never skips: out-of-order commits on both workers ----------------------
q coord -c "SELECT chronicle.subscribe('never-skip', from_start => false)" >/dev/null || fail "subscribe from_start => false"
check "from_start => false: member 0 starts at each node's end" "$g1,$g2" \
    "$(q coord -c "SELECT string_agg(node::text, ',' ORDER BY node) FROM chronicle.subscription_checkpoints WHERE subscription = 'never-skip'")"
check "... so nothing is pending" "0" "$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('never-skip')")"
q coord -c "SELECT chronicle.append('$a', 'Early', '{}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Early', '{}')" >/dev/null
# On each worker a transaction appends and stays open; later appends on the
# same workers commit before it.
hold_open w1 "$a" Held
hold_open w2 "$b" Held
q coord -c "SELECT chronicle.append('$a2', 'Late', '{}')" >/dev/null
q coord -c "SELECT chronicle.append('$b2', 'Late', '{}')" >/dev/null
page=$(q coord -c "SELECT node || '|' || tx_id || '|' || global_position || '|' || stream_id || ':' || type FROM chronicle.poll_nodes('never-skip')")
check "while they are open: only what committed before them, on both nodes" "$a:Early $b:Early" \
    "$(cut -d'|' -f4 <<<"$page" | tr '\n' ' ' | sed 's/ $//')"
ack_page never-skip "$page"
check "a subscriber that acked that page has nothing more to poll yet" "0" \
    "$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('never-skip')")"
hold_commit w1
hold_commit w2
page=$(q coord -c "SELECT node || '|' || tx_id || '|' || global_position || '|' || stream_id || ':' || type FROM chronicle.poll_nodes('never-skip')")
check "after the out-of-order commits: the held and the late events, each node in its order" \
    "$g1:$a:Held $g1:$a2:Late $g2:$b:Held $g2:$b2:Late" \
    "$(awk -F'|' '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $4 }' <<<"$page")"
# Ack node $g1's last row only: node $g2's checkpoint stays.
ack_page never-skip "$(grep "^$g1|" <<<"$page")"
check "an ack moves only its node's checkpoint" "$b:Held $b2:Late" \
    "$(q coord -c "SELECT string_agg(stream_id || ':' || type, ' ' ORDER BY tx_id, global_position) FROM chronicle.poll_nodes('never-skip')")"
ack_page never-skip "$(grep "^$g2|" <<<"$page")"
check "then nothing more" "0" "$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('never-skip')")"

# A subscriber polling pages of 4 and acking each node's last row while two
# writers append to streams on both workers, and transactions on both workers
# stay open across other commits (twice).  Every event must come exactly
# once, each node's in its log order, whatever the interleaving.
# The held transactions append to streams of their own ($a3 on w1, $b3 on
# w2): a writer appending to a held stream would wait for it.
a3=$(stream_on w1 121 300)
b3=$(stream_on w2 121 300)
q coord -c "SELECT chronicle.subscribe('stress', from_start => false)" >/dev/null
hold_open w1 "$a3" StressHeld
hold_open w2 "$b3" StressHeld
rm -f "$work/stress-writer-"* "$work/stress-delivered"
at_exit rm -f "$work/stress-writer-1.half" "$work/stress-writer-2.half" "$work/stress-writer-errors" "$work/stress-delivered"
writer_pids=()
for w in 1 2; do
    (for i in $(seq 1 16); do
        s=$a
        case $((i % 4)) in 1) s=$b ;; 2) s=$a2 ;; 3) s=$b2 ;; esac
        q coord -c "SELECT chronicle.append('$s', 'Stress', '{\"writer\": $w, \"i\": $i}')" >/dev/null ||
            echo "writer $w append $i failed" >>"$work/stress-writer-errors"
        ((i == 8)) && touch "$work/stress-writer-$w.half"
    done) &
    writer_pids+=($!)
done
phase=1 rounds=0
while ((rounds < 300)); do
    rounds=$((rounds + 1))
    page=$(q coord -c "SELECT node || '|' || tx_id || '|' || global_position || '|' || stream_id || '|' || version || '|' || type
                       FROM chronicle.poll_nodes('stress', 4)")
    [[ -n $page ]] && { echo "$page" >>"$work/stress-delivered"; ack_page stress "$page"; }
    if ((phase == 1)) && [[ -e $work/stress-writer-1.half && -e $work/stress-writer-2.half ]]; then
        # Half way: the first held transactions commit, new ones open.
        hold_commit w1
        hold_commit w2
        hold_open w1 "$a3" StressHeld
        hold_open w2 "$b3" StressHeld
        phase=2
    elif ((phase == 2)) && ! kill -0 "${writer_pids[@]}" 2>/dev/null; then
        wait "${writer_pids[@]}"
        hold_commit w1
        hold_commit w2
        phase=3
    elif ((phase == 3)) && [[ -z $page ]]; then
        break
    fi
done
[[ -e $work/stress-writer-errors ]] && fail "stress writers: $(cat "$work/stress-writer-errors")"
check "stress: the subscriber finished" "3" "$phase"
expected=$(q coord -c "SELECT count(*) FROM chronicle.events WHERE type IN ('Stress', 'StressHeld')")
check "stress: 32 appends and 4 held transactions" "36" "$expected"
check "stress: every event delivered exactly once" "$expected|$expected" \
    "$(awk -F'|' '{ n++; seen[$4 "|" $5] = 1 } END { printf "%d|%d", n, length(seen) }' "$work/stress-delivered")"
check "stress: the delivered events are the appended ones" "" \
    "$(q coord -c "SELECT stream_id || '|' || version FROM chronicle.events WHERE type IN ('Stress', 'StressHeld') ORDER BY 1" |
        diff - <(awk -F'|' '{ print $4 "|" $5 }' "$work/stress-delivered" | sort) | head -5)"
check "stress: each node's events delivered in its log order" "0" \
    "$(awk -F'|' '{ if ($1 in tx && ($2 < tx[$1] || ($2 == tx[$1] && $3 <= pos[$1]))) bad++; tx[$1] = $2; pos[$1] = $3 }
                   END { print bad + 0 }' "$work/stress-delivered")"
# The first held transactions committed only after both writers had
# appended 8 times: on each node, events of later transactions committed first.
check "stress: on each node, events of later transactions than a held one" "2" \
    "$(awk -F'|' '$6 == "StressHeld" && !($1 in held) { held[$1] = $2 }
                  $6 == "Stress" && ($1 in held) && $2 > held[$1] { later[$1] = 1 }
                  END { print length(later) }' "$work/stress-delivered")"

# ---- consumer groups, parking, a non-superuser consumer (on 'stress', all acked)
check "poll_nodes with members => 2 resizes: checkpoints per member and node at the old ones" "0:$g1 0:$g2 1:$g1 1:$g2" \
    "$(q coord -c "SELECT count(*) FROM chronicle.poll_nodes('stress', 10, 1, 2)" >/dev/null
       q coord -c "SELECT string_agg(member || ':' || node, ' ' ORDER BY member, node) FROM chronicle.subscription_checkpoints WHERE subscription = 'stress'")"
check "... at each node's old checkpoint" "2" \
    "$(q coord -c "SELECT count(DISTINCT (node, tx_id, global_position)) FROM chronicle.subscription_checkpoints WHERE subscription = 'stress'")"
q coord -c "SELECT chronicle.append('$a', 'Grouped', '{}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Grouped', '{}')" >/dev/null
check "each new event goes to one member of the group" "$(printf '%s\n' "$a" "$b" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(q coord -c "SELECT string_agg(stream_id, ' ' ORDER BY stream_id COLLATE \"C\") FROM (
                   SELECT stream_id FROM chronicle.poll_nodes('stress', 10, 0, 2)
                   UNION ALL SELECT stream_id FROM chronicle.poll_nodes('stress', 10, 1, 2)) x")"
q coord -c "SELECT chronicle.poll_nodes('stress', 10, 0, 1)" >/dev/null

id_a=$(q coord -c "SELECT event_id FROM chronicle.events WHERE stream_id = '$a' AND type = 'Grouped'")
q coord -c "SELECT chronicle.park('stress', '$id_a', 'cannot handle it')" >/dev/null || fail "park on the coordinator"
check "a parked event is skipped by poll_nodes" "$b:Grouped" \
    "$(q coord -c "SELECT string_agg(stream_id || ':' || type, ' ') FROM chronicle.poll_nodes('stress')")"
check "... and by poll on its worker" "0" \
    "$(q w1 -c "SELECT count(*) FROM chronicle.poll('stress')")"
check "replay_parked returns it and un-parks it" "$a:Grouped|0" \
    "$(q coord -c "SELECT string_agg(stream_id || ':' || type, ' ') FROM chronicle.replay_parked('stress')")|$(q coord -c "SELECT count(*) FROM chronicle.parked")"

# Subscriptions are owned (docs/design/security.md): 'stress' is the
# superuser's until it gives it to the consumer's role.
q coord -c "CREATE ROLE citus_consumer LOGIN" -c "GRANT chronicle_subscriber TO citus_consumer" \
    -c "CREATE ROLE citus_other LOGIN" -c "GRANT chronicle_subscriber TO citus_other" >/dev/null
check "the roles reach both workers" "2" \
    "$(q coord -c "SELECT count(*) FROM run_command_on_workers(\$\$SELECT count(*) FROM pg_roles WHERE rolname IN ('citus_consumer', 'citus_other') AND pg_has_role(rolname, 'chronicle_subscriber', 'USAGE')\$\$) WHERE result = '2'")"
check "before it is given away, the consumer may not poll the superuser's subscription: 42501" "42501" \
    "$(err_as coord citus_consumer "SELECT count(*) FROM chronicle.poll_nodes('stress')")"
q coord -c "SELECT chronicle.alter_subscription_owner('stress', 'citus_consumer')" >/dev/null ||
    fail "alter_subscription_owner on the cluster"
page=$(q coord -U citus_consumer -c "SELECT node || '|' || tx_id || '|' || global_position FROM chronicle.poll_nodes('stress')")
check "a consumer with chronicle_subscriber polls every node" "2" "$(grep -c . <<<"$page")"

# Another consumer role may not: poll_nodes, a resize through it, an ack of
# either node's row, poll on a worker, and _poll_node (what poll_nodes runs
# on each node) run directly on a worker, on the coordinator or through
# master_run_on_worker are all 42501, and nothing is written.
sub_state() {
    q coord -c "SELECT (SELECT row(s.*)::text FROM chronicle.subscriptions s WHERE s.name = 'stress')
                       || ' ' || (SELECT string_agg(row(c.*)::text, ',' ORDER BY c.member, c.node)
                                  FROM chronicle.subscription_checkpoints c WHERE c.subscription = 'stress')"
}
before=$(sub_state)
check "Citus's connections to the nodes log in as current_user (why poll_nodes' body asks them as chronicle's owner)" "citus_other,citus_other" \
    "$(q coord -U citus_other -c "SELECT string_agg(result, ',') FROM master_run_on_worker(
           ARRAY['127.0.0.1', '127.0.0.1'], ARRAY[${port[w1]}, ${port[w2]}], ARRAY['SELECT current_user', 'SELECT current_user'], true)")"
check "a second role: poll_nodes of the consumer's subscription is 42501" "42501" \
    "$(err_as coord citus_other "SELECT count(*) FROM chronicle.poll_nodes('stress')")"
check "... poll_nodes with another group size (a resize) is 42501" "42501" \
    "$(err_as coord citus_other "SELECT count(*) FROM chronicle.poll_nodes('stress', 10, 1, 2)")"
while IFS='|' read -r node tx pos; do
    check "... ack of node $node's row (node => $node) is 42501" "42501" \
        "$(err_as coord citus_other "SELECT chronicle.ack('stress', '$tx', $pos, node => $node)")"
done <<<"$page"
w1_row=$(grep "^$g1|" <<<"$page")
check "... ack on w1 without a node is 42501" "42501" \
    "$(err_as w1 citus_other "SELECT chronicle.ack('stress', '$(cut -d'|' -f2 <<<"$w1_row")', $(cut -d'|' -f3 <<<"$w1_row"))")"
check "... poll on w1 is 42501" "42501" "$(err_as w1 citus_other "SELECT count(*) FROM chronicle.poll('stress')")"
check "... _poll_node on w1, from the start, is 42501" "42501" \
    "$(err_as w1 citus_other "SELECT count(*) FROM chronicle._poll_node('stress', '0', 0, 100, 0, 1, NULL, NULL)")"
check "... _poll_node on the coordinator is 42501" "42501" \
    "$(err_as coord citus_other "SELECT count(*) FROM chronicle._poll_node('stress', '0', 0, 100, 0, 1, NULL, NULL)")"
check "... _poll_node through master_run_on_worker fails on both workers: granted to nobody" "2" \
    "$(q coord -U citus_other -c "SELECT count(*) FROM master_run_on_worker(
           ARRAY['127.0.0.1', '127.0.0.1'], ARRAY[${port[w1]}, ${port[w2]}],
           ARRAY['SELECT count(*) FROM chronicle._poll_node(''stress'', ''0'', 0, 100, 0, 1, NULL, NULL)',
                 'SELECT count(*) FROM chronicle._poll_node(''stress'', ''0'', 0, 100, 0, 1, NULL, NULL)'], true)
           WHERE NOT success AND result LIKE '%permission denied for function _poll_node%'")"
check "... and the subscription and its checkpoints are unchanged" "$before" "$(sub_state)"
w1_checkpoint=$(q coord -F "', " -c "SELECT tx_id, global_position FROM chronicle.subscription_checkpoints
                                     WHERE subscription = 'stress' AND member = 0 AND node = $g1")
check "... and the consumer may not run _poll_node of its own subscription on w1 either (chronicle's path only)" "42501" \
    "$(err_as w1 citus_consumer "SELECT count(*) FROM chronicle._poll_node('stress', '$w1_checkpoint, 100, 0, 1, NULL, NULL)")"
check "... while a superuser running it gets w1's part of the consumer's page" \
    "$(grep -c "^$g1|" <<<"$page")" \
    "$(q w1 -c "SELECT count(*) FROM chronicle._poll_node('stress', '$w1_checkpoint, 100, 0, 1, NULL, NULL)")"
check "... nobody is granted _poll_node or _poll_nodes_as" "0|0" \
    "$(q coord -c "SELECT count(*) FILTER (WHERE p.proname = '_poll_node') || '|' || count(*) FILTER (WHERE p.proname = '_poll_nodes_as')
                   FROM pg_proc p, aclexplode(p.proacl) a
                   WHERE p.pronamespace = 'chronicle'::regnamespace AND p.proname IN ('_poll_node', '_poll_nodes_as')
                     AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner")"
check "... and _poll_nodes_as cannot be called directly with a caller of one's choosing" "42501" \
    "$(err_as coord citus_other "SELECT count(*) FROM chronicle._poll_nodes_as('citus_consumer'::regrole, 'stress', 10, 0, 1)")"
while IFS='|' read -r node tx pos; do
    q coord -U citus_consumer -c "SELECT chronicle.ack('stress', '$tx', $pos, node => $node)" >/dev/null ||
        fail "ack as citus_consumer"
done <<<"$page"
check "... and acks on each" "0" "$(q coord -U citus_consumer -c "SELECT count(*) FROM chronicle.poll_nodes('stress')")"

# poll_nodes builds each node's command from the subscription's name and
# filters (format %L): a name and types with quotes, backslashes, dollar
# quotes, braces and a statement of their own reach the nodes as values.
hostile="q'u\\o\$\$te\"'; SELECT 1; --"
some_type=$(q coord -c "SELECT type FROM chronicle.events ORDER BY type LIMIT 1")
q coord -U citus_consumer -c "SELECT chronicle.subscribe(\$n\$$hostile\$n\$,
                                  types => ARRAY[\$t\$x'y\\z{\"},\$t\$, '$some_type'])" >/dev/null ||
    fail "subscribe with a hostile name"
check "poll_nodes of a subscription whose name and types hold quotes, backslashes, \$\$: every event of the type" \
    "$(q coord -c "SELECT count(*) FROM chronicle.events WHERE type = '$some_type'")" \
    "$(q coord -U citus_consumer -c "SELECT count(*) FROM chronicle.poll_nodes(\$n\$$hostile\$n\$, 100000)
                                     WHERE type = '$some_type'")"
check "... and only those" "0" \
    "$(q coord -U citus_consumer -c "SELECT count(*) FROM chronicle.poll_nodes(\$n\$$hostile\$n\$, 100000)
                                     WHERE type <> '$some_type'")"
check "... its name stored as given" "1" \
    "$(q coord -c "SELECT count(*) FROM chronicle.subscriptions WHERE name = \$n\$$hostile\$n\$")"
check "... an ack naming a negative node is 22023" "22023" \
    "$(err_as coord citus_consumer "SELECT chronicle.ack(\$n\$$hostile\$n\$, '3', 1, node => -1)")"
q coord -U citus_consumer -c "SELECT chronicle.unsubscribe(\$n\$$hostile\$n\$)" >/dev/null || fail "unsubscribe the hostile name"
# A subscription owned by a group role without LOGIN, polled under SET ROLE
# to it (as a member that does not inherit its rights must): poll_nodes asks
# the nodes in connections of chronicle's owner, after checking the caller,
# so the group role needs no LOGIN (before: 08006, Citus logging in as it).
q coord -c "CREATE ROLE citus_team IN ROLE chronicle_subscriber" -c "CREATE ROLE citus_team_gate NOINHERIT IN ROLE citus_team" \
    -c "CREATE ROLE citus_team_member LOGIN IN ROLE chronicle_subscriber, citus_team_gate" >/dev/null ||
    fail "roles citus_team, citus_team_gate, citus_team_member"
q coord -c "SELECT chronicle.subscribe('team_sub')" -c "SELECT chronicle.alter_subscription_owner('team_sub', 'citus_team')" >/dev/null ||
    fail "team_sub"
check "a member of a NOLOGIN owner through a NOINHERIT role: poll_nodes as itself is the owner's 42501" \
    "ERROR:  subscription \"team_sub\" is owned by role citus_team" \
    "$(q coord -U citus_team_member -c "SELECT count(*) FROM chronicle.poll_nodes('team_sub')" 2>&1 | head -1)"
check "... under SET ROLE to the NOLOGIN owner, poll_nodes reads every node: every event once" "$(q coord -c "SELECT count(*) FROM chronicle.events")" \
    "$(q coord -U citus_team_member -c "SET ROLE citus_team" -c "SELECT count(DISTINCT (stream_id, version)) FROM chronicle.poll_nodes('team_sub', 100000)" 2>&1)"
team_page=$(q coord -U citus_team_member -c "SET ROLE citus_team" \
    -c "SELECT node || '|' || tx_id || '|' || global_position FROM chronicle.poll_nodes('team_sub', 2)" 2>&1)
check "... a page of 2 per node" "4" "$(grep -c '^[0-9]*|[0-9]*|[0-9]*$' <<<"$team_page")"
while IFS='|' read -r node tx pos; do
    q coord -U citus_team_member -c "SET ROLE citus_team" -c "SELECT chronicle.ack('team_sub', '$tx', $pos, node => $node)" >/dev/null ||
        fail "ack under SET ROLE citus_team"
done < <(awk -F'|' '{ last[$1] = $0 } END { for (n in last) print last[n] }' <<<"$team_page")
check "... its acks under SET ROLE move each node's checkpoint: 2 fewer per node" "$(($(q coord -c "SELECT count(*) FROM chronicle.events") - 4))" \
    "$(q coord -U citus_team_member -c "SET ROLE citus_team" -c "SELECT count(*) FROM chronicle.poll_nodes('team_sub', 100000)" 2>&1)"
check "... a resize under SET ROLE (members => 2) too" "0:$g1 0:$g2 1:$g1 1:$g2" \
    "$(q coord -U citus_team_member -c "SET ROLE citus_team" -c "SELECT count(*) FROM chronicle.poll_nodes('team_sub', 1, 1, 2)" >/dev/null
       q coord -c "SELECT string_agg(member || ':' || node, ' ' ORDER BY member, node) FROM chronicle.subscription_checkpoints WHERE subscription = 'team_sub'")"
check "... poll on a worker works there too" "" \
    "$(q w1 -U citus_team_member -v VERBOSITY=sqlstate -c "SET ROLE citus_team" -c "SELECT count(*) FROM chronicle.poll('team_sub', 10, 0, 2)" 2>&1 >/dev/null)"
check "... while under SET ROLE citus_team, another role's subscription stays 42501" "42501" \
    "$(q coord -U citus_team_member -v VERBOSITY=sqlstate -c "SET ROLE citus_team" -c "SELECT count(*) FROM chronicle.poll_nodes('stress')" 2>&1 >/dev/null |
       sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p')"
q coord -c "SELECT chronicle.unsubscribe('team_sub')" -c "DROP ROLE citus_team_member, citus_team_gate, citus_team" >/dev/null || fail "dropping team_sub"

check "distribute() again, with subscriptions, is still a no-op" "" "$(err coord "SELECT chronicle.distribute()")"
check "unsubscribe removes every node's checkpoints" "0" \
    "$(q coord -c "SELECT chronicle.unsubscribe('stress')" >/dev/null
       q coord -c "SELECT count(*) FROM chronicle.subscription_checkpoints WHERE subscription = 'stress'")"

# ---- last: distribute() refuses a store with subscriptions or projections
# (a new extension, not distributed yet)
q coord -c "SET client_min_messages = warning" -c "DROP EXTENSION chronicle CASCADE" -c "CREATE EXTENSION chronicle" \
    -c "SELECT chronicle.subscribe('before')" >/dev/null || fail "recreating the extension"
check "distribute() with a subscription on the single-node store is 0A000" \
    "ERROR:  0A000: chronicle.distribute() cannot distribute a store with subscriptions" \
    "$(q coord -c '\set VERBOSITY verbose' -c "SELECT chronicle.distribute()" 2>&1 | head -1)"
q coord -c "SELECT chronicle.unsubscribe('before')" \
    -c "SELECT chronicle.define_reducer('r', '{\"\$init\": {\"n\": 0}}')" \
    -c "SELECT chronicle.define_projection('p', 'r', 'public.before_p', '{\"n\": \"int\"}')" >/dev/null ||
    fail "a projection on the single-node store"
check "distribute() with a projection on the single-node store is 0A000" \
    "ERROR:  0A000: chronicle.distribute() cannot distribute a store with projections" \
    "$(q coord -c '\set VERBOSITY verbose' -c "SELECT chronicle.distribute()" 2>&1 | head -1)"

# chronicle's owner must log in to every node on a cluster (its functions
# reach the other nodes as it): distribute() refuses up-front when it cannot.
q coord -c "SET client_min_messages = warning" -c "SELECT chronicle.drop_projection('p')" -c "DROP EXTENSION chronicle CASCADE" \
    -c "CREATE ROLE citus_chronicle_owner SUPERUSER LOGIN" >/dev/null || fail "dropping the extension again"
q coord -U citus_chronicle_owner -c "CREATE EXTENSION chronicle" >/dev/null || fail "CREATE EXTENSION as citus_chronicle_owner"
q coord -c "ALTER ROLE citus_chronicle_owner NOLOGIN" >/dev/null
check "distribute() when chronicle's owner cannot log in: 0A000, nothing distributed" "0A000|0" \
    "$(err coord "SELECT chronicle.distribute()")|$(q coord -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'chronicle.%'")"
