# trees.sh: trees by scope on Citus (docs/design/citus.md,
# docs/reference/tree.md).  Sourced by test/citus/suite.sh after distribute(),
# with its q, err, check, port[] and work; uses only the tables it creates.
#
# A tree attached with a scope column, whose key is (scope, id), is
# distributed by its scope: each scope's rows live in one shard, the tree
# triggers fire on that shard (finding the attachment in their own
# arguments), and plain SQL through the coordinator keeps every scope's
# numbering right.  The tree functions work where the scope's shard is.

# A table of this node stays a tree as on a single server (and a key on the
# id alone is what Citus refuses to distribute by the scope).
q coord -c "CREATE TABLE cats_local (id int PRIMARY KEY, parent_id int, shop text NOT NULL, name text)" >/dev/null
q coord -c "SELECT chronicle.tree_attach('cats_local', scope_column => 'shop')" >/dev/null || fail "tree_attach on the coordinator"
q coord -c "INSERT INTO cats_local VALUES (1, NULL, 'a', 'root'), (2, 1, 'a', 'kid'), (3, NULL, 'b', 'root'), (4, 3, 'b', 'kid'), (5, 4, 'b', 'grandkid')" >/dev/null ||
    fail "INSERT into a tree on the coordinator"
check "tree numbering by scope on the coordinator (a table of its own)" "a:1:1-4 a:2:2-3 b:3:1-6 b:4:2-5 b:5:3-4" \
    "$(q coord -c "SELECT string_agg(shop || ':' || id || ':' || lft || '-' || rgt, ' ' ORDER BY shop, lft) FROM cats_local")"
check "a tree whose key is the id alone cannot be distributed by its scope (Citus: every unique key holds it)" \
    "ERROR:  cannot create constraint on \"cats_local\"" \
    "$(q coord -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('cats_local', 'shop')" 2>&1 | head -1)"

# ---- attach, then distribute by the scope ----------------------------------
q coord -c "CREATE TABLE cats (shop text NOT NULL, id int NOT NULL, parent_id int, name text, PRIMARY KEY (shop, id))" >/dev/null
q coord -c "SELECT chronicle.tree_attach('cats', scope_column => 'shop')" >/dev/null || fail "tree_attach with a key on (scope, id)"
q coord -c "INSERT INTO cats VALUES ('before', 1, NULL, 'r'), ('before', 2, 1, 'x'), ('before', 3, 2, 'y')" >/dev/null
check "Citus refuses a table with triggers unless told they are wanted" "ERROR:  cannot distribute relation \"cats\" because it has triggers" \
    "$(q coord -c "SELECT create_distributed_table('cats', 'shop')" 2>&1 | head -1)"
q coord -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('cats', 'shop', shard_count => 4, colocate_with => 'none')" \
    -c "SELECT truncate_local_data_after_distributing_table('cats')" >/dev/null 2>&1 ||
    fail "create_distributed_table('cats', 'shop')"
check "cats is hash-distributed by shop" "h|shop" \
    "$(q coord -c "SELECT partmethod::text || '|' || column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition WHERE logicalrelid = 'cats'::regclass")"
check "the rows numbered before distribution kept their numbers in their shard" "1:1-6 2:2-5 3:3-4" \
    "$(q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM cats WHERE shop = 'before'")"
check "each shard has the six tree triggers, the lock trigger with the attachment in its arguments" "4|6|6|1" \
    "$(q coord -c "SELECT count(*) || '|' || min(r.n) || '|' || max(r.n) || '|' || count(DISTINCT r.a) FROM (SELECT split_part(result, ',', 1)::int AS n, split_part(result, ',', 2) AS a
                   FROM run_command_on_shards('cats', \$\$SELECT count(*) || ',' || max(CASE WHEN tgname LIKE 'chronicle_tree_1_lock%%' THEN encode(tgargs, 'escape') END)
                                                       FROM pg_trigger WHERE tgrelid = '%s'::regclass\$\$)) r")"
check "the coordinator keeps the attachment; the workers hold none (their shards carry it)" "1|0|0" \
    "$(q coord -c "SELECT count(*) FROM chronicle._tree_tables WHERE tbl = 'cats'::regclass")|$(q w1 -c "SELECT count(*) FROM chronicle._tree_tables")|$(q w2 -c "SELECT count(*) FROM chronicle._tree_tables")"

# Two scopes whose shards are on different workers.
cat_node() {
    q coord -c "SELECT p.nodeport FROM pg_dist_shard_placement p WHERE p.shardid = get_shard_id_for_distribution_column('cats', '$1')"
}
sa= sb=
for i in $(seq 1 40); do
    s="shop-$i"
    case $(cat_node "$s") in
    "${port[w1]}") [[ -z $sa ]] && sa=$s ;;
    "${port[w2]}") [[ -z $sb ]] && sb=$s ;;
    esac
    [[ -n $sa && -n $sb ]] && break
done
[[ -n $sa && -n $sb ]] || { fail "no scopes on both workers"; return; }
echo "scopes: $sa on w1 (${port[w1]}), $sb on w2 (${port[w2]})"
numbering() { # scope: "id:lft-rgt ..." in lft order, read through the coordinator
    q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM cats WHERE shop = '$1'"
}
depths() {
    q coord -c "SELECT string_agg(id || ':' || depth, ' ' ORDER BY lft) FROM cats WHERE shop = '$1'"
}

# ---- plain SQL through the coordinator -------------------------------------
q coord -c "INSERT INTO cats VALUES ('$sa', 1, NULL, 'root'), ('$sa', 2, 1, 'a'), ('$sa', 3, 1, 'b'), ('$sa', 4, 2, 'c'),
                                    ('$sb', 1, NULL, 'root'), ('$sb', 2, 1, 'a'), ('$sb', 3, 2, 'b')" >/dev/null ||
    fail "INSERT of two scopes in one statement"
check "one INSERT into scopes on both workers: $sa numbered on w1" "1:1-8 2:2-5 4:3-4 3:6-7" "$(numbering "$sa")"
check "... and $sb on w2, the same ids numbered apart" "1:1-6 2:2-5 3:3-4" "$(numbering "$sb")"
check "depths" "1:0 2:1 4:2 3:1" "$(depths "$sa")"
q coord -c "INSERT INTO cats VALUES ('$sb', 4, 1, 'd')" >/dev/null || fail "single-row INSERT"
check "a single-row INSERT: the last child of its parent in its scope" "1:1-8 2:2-5 3:3-4 4:6-7" "$(numbering "$sb")"
check "a parent only in another scope is TR002 (raised on the shard)" "TR002" \
    "$(err coord "INSERT INTO cats VALUES ('$sa', 9, 7, 'orphan')")"
q coord -c "INSERT INTO cats VALUES ('$sb', 7, NULL, 'tmp')" >/dev/null
check "... an id of another scope too" "TR002" "$(err coord "INSERT INTO cats VALUES ('$sa', 9, 7, 'orphan')")"
q coord -c "DELETE FROM cats WHERE shop = '$sb' AND id = 7" >/dev/null

q coord -c "UPDATE cats SET parent_id = 3 WHERE shop = '$sa' AND id = 2" >/dev/null || fail "UPDATE of the parent"
check "UPDATE of the parent moves the subtree (one shard)" "1:1-8 3:2-7 2:3-6 4:4-5" "$(numbering "$sa")"
check "depths after the move" "1:0 3:1 2:2 4:3" "$(depths "$sa")"
q coord -c "UPDATE cats SET parent_id = 1 WHERE id = 3 AND shop IN ('$sa', '$sb')" >/dev/null || fail "multi-shard UPDATE"
check "an UPDATE over both workers: $sa's node 3 kept its parent, nothing moved" "1:1-8 3:2-7 2:3-6 4:4-5" "$(numbering "$sa")"
check "... $sb's node 3 moved under 1" "1:1-8 2:2-3 4:4-5 3:6-7" "$(numbering "$sb")"
q coord -c "DELETE FROM cats WHERE shop = '$sb' AND id = 2" >/dev/null || fail "DELETE"
check "DELETE closes the gap in its scope only" "1:1-6 4:2-3 3:4-5|1:1-8 3:2-7 2:3-6 4:4-5" "$(numbering "$sb")|$(numbering "$sa")"
check "writing lft through the coordinator is TR005 (raised on the shard)" "TR005" \
    "$(err coord "UPDATE cats SET lft = 40 WHERE shop = '$sa' AND id = 1")"
# A move to another scope changes the distribution column: Citus refuses it.
check "moving a node to another scope (UPDATE of the scope) is refused by Citus: 0A000" "0A000" \
    "$(err coord "UPDATE cats SET shop = '$sb', parent_id = 1 WHERE shop = '$sa' AND id = 2")"
check "... and both scopes are as they were" "1:1-8 3:2-7 2:3-6 4:4-5|1:1-6 4:2-3 3:4-5" "$(numbering "$sa")|$(numbering "$sb")"
# Plain SQL on a worker is routed too (here to the other worker's shard).
q w2 -c "INSERT INTO cats VALUES ('$sa', 5, 4, 'e')" >/dev/null || fail "INSERT on w2 into a scope of w1"
check "an INSERT on a worker for a scope held by the other" "1:1-10 3:2-9 2:3-8 4:4-7 5:5-6" "$(numbering "$sa")"

# ---- tree_validate, per scope and per shard ---------------------------------
check "tree_validate of $sa on w1 (in_scope): no problems" "0" \
    "$(q w1 -c "SELECT count(*) FROM chronicle.tree_validate('cats', in_scope => '$sa')")"
check "tree_validate of $sb on w2 (in_scope): no problems" "0" \
    "$(q w2 -c "SELECT count(*) FROM chronicle.tree_validate('cats', '$sb')")"
check "tree_validate without a scope on a worker: every scope of its shards" "0" \
    "$(q w1 -c "SELECT count(*) FROM chronicle.tree_validate('cats')")"
check "tree_validate of every shard from the coordinator (run_command_on_shards)" "4|0" \
    "$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('cats', \$\$SELECT count(*) FROM chronicle.tree_validate('%s')\$\$) WHERE success")"
check "tree_validate of a scope held elsewhere (the coordinator holds none): 0A000" "0A000" \
    "$(err coord "SELECT * FROM chronicle.tree_validate('cats', in_scope => '$sa')")"
check "tree_validate of a distributed tree on a node without its shards: 0A000" "0A000" \
    "$(err coord "SELECT * FROM chronicle.tree_validate('cats')")"
check "tree_validate on w2 finds a broken numbering in its scope" "$sb|1" \
    "$(q w2 -c "SET session_replication_role = replica" -c "SET citus.enable_manual_changes_to_shards = on" \
         -c "UPDATE $(q coord -c "SELECT shard_name('cats', get_shard_id_for_distribution_column('cats', '$sb'), false)") SET lft = 40 WHERE shop = '$sb' AND id = 3" \
         -c "RESET session_replication_role" \
         -c "SELECT scope || '|' || count(DISTINCT node) FROM chronicle.tree_validate('cats', '$sb') GROUP BY scope")"
check "tree_rebuild of that shard renumbers the row (on w2)" "1|0" \
    "$(q w2 -c "SELECT chronicle.tree_rebuild('cats')")|$(q w2 -c "SELECT count(*) FROM chronicle.tree_validate('cats', '$sb')")"
check "... back to its numbering" "1:1-6 4:2-3 3:4-5" "$(numbering "$sb")"

# ---- the tree functions: where the scope's shard is ----------------------------
check "tree_move on the coordinator (the shard is elsewhere): 0A000" "0A000" \
    "$(err coord "SELECT chronicle.tree_move('cats', 4, 1, 'first_child', in_scope => '$sa')")"
check "tree_move of a distributed tree without in_scope: 22004" "22004" \
    "$(err w1 "SELECT chronicle.tree_move('cats', 4, 1, 'first_child')")"
q w1 -c "SELECT chronicle.tree_move('cats', 4, 1, 'first_child', in_scope => '$sa')" >/dev/null || fail "tree_move on w1"
check "tree_move on the worker holding the scope works on its shard" "1:1-10 4:2-5 5:3-4 3:6-9 2:7-8" "$(numbering "$sa")"
check "tree_subtree on the worker" "4 5" \
    "$(q w1 -c "SELECT string_agg(id::text, ' ' ORDER BY lft) FROM chronicle.tree_subtree(NULL::cats, 4, in_scope => '$sa')")"
check "tree_ancestors on the worker" "1 3" \
    "$(q w1 -c "SELECT string_agg(id::text, ' ') FROM chronicle.tree_ancestors(NULL::cats, 2, in_scope => '$sa')")"
check "tree_insert on the worker (the row gives its scope)" "6|11|12" \
    "$(q w1 -c "SELECT r->>'id' || '|' || (r->>'lft') || '|' || (r->>'rgt') FROM chronicle.tree_insert('cats', '{\"shop\": \"$sa\", \"id\": 6, \"name\": \"f\"}', 1, 'after') r")"
check "tree_insert of a distributed tree without the row's scope: 22004" "22004" \
    "$(err w1 "SELECT chronicle.tree_insert('cats', '{\"id\": 8}', 1)")"
check "tree_delete on the worker" "1|1:1-10 4:2-5 5:3-4 3:6-9 2:7-8" \
    "$(q w1 -c "SELECT chronicle.tree_delete('cats', 6, in_scope => '$sa')")|$(numbering "$sa")"
# Delegation: a function of the user's, distributed by the scope and
# colocated with the table, runs where the scope is.
# (PL/pgSQL: Citus does not delegate a SQL function, which the planner inlines.)
q coord -c "CREATE FUNCTION move_cat(shop text, node int, target int) RETURNS void LANGUAGE plpgsql
            AS \$\$ BEGIN PERFORM chronicle.tree_move('public.cats', node, target, in_scope => shop); END \$\$" >/dev/null &&
q coord -c "SELECT create_distributed_function('move_cat(text, int, int)', 'shop', colocate_with => 'cats')" >/dev/null ||
    fail "create_distributed_function(move_cat)"
q coord -c "SELECT move_cat('$sb', 3, 4)" >/dev/null || fail "move_cat through the coordinator"
check "a function delegated by scope runs tree_move on $sb's worker" "1:1-6 4:2-5 3:3-4" "$(numbering "$sb")"
q coord -c "SELECT move_cat('$sa', 2, 4)" >/dev/null || fail "move_cat for $sa"
check "... and on $sa's" "1:1-10 4:2-7 5:3-4 2:5-6 3:8-9" "$(numbering "$sa")"

# ---- a role that may only write the table's rows ------------------------------
q coord -c "CREATE ROLE tree_clerk LOGIN" -c "GRANT SELECT, INSERT, DELETE, UPDATE (parent_id, name) ON cats TO tree_clerk" >/dev/null ||
    fail "CREATE ROLE tree_clerk LOGIN"
q coord -c "SET ROLE tree_clerk" -c "INSERT INTO cats VALUES ('$sb', 12, 1, 'clerk')" >/dev/null || fail "tree_clerk's INSERT"
check "a role with row rights only: its INSERT is numbered on the shard (the maintenance runs as the owner)" \
    "1:1-8 4:2-5 3:3-4 12:6-7" "$(numbering "$sb")"
q coord -c "SET ROLE tree_clerk" -c "DELETE FROM cats WHERE shop = '$sb' AND id = 12" >/dev/null || fail "tree_clerk's DELETE"
check "... its DELETE closes the gap" "1:1-6 4:2-5 3:3-4" "$(numbering "$sb")"
check "... it may not write lft (42501, its own lack of privilege)" "42501" \
    "$(err coord "SET ROLE tree_clerk; UPDATE cats SET lft = 1 WHERE shop = '$sb'")"
check "... nor run tree_move on the worker without chronicle_writer (42501)" "42501" \
    "$(err w2 "SET ROLE tree_clerk; SELECT chronicle.tree_move('cats', 3, 1, in_scope => '$sb')")"

# ---- writers of scopes on different workers do not wait for each other ------
# A transaction holds $sa's tree lock on w1 (an INSERT through the
# coordinator, left open); writers of $sb on w2 go through, a writer of $sa
# waits (lock_timeout turns that wait into 55P03, so the check can fail).
rm -f "$work/tree-hold" "$work/tree-hold.ready"
mkfifo "$work/tree-hold"
chmod a+rw "$work/tree-hold"
q coord <"$work/tree-hold" >"$work/tree-hold.out" 2>&1 &
tree_hold_pid=$!
exec 9>"$work/tree-hold"
echo "BEGIN; INSERT INTO cats VALUES ('$sa', 10, 1, 'held');" >&9
echo "\\! touch $work/tree-hold.ready" >&9
while [[ ! -e $work/tree-hold.ready ]]; do sleep 0.1; done
check "while $sa's writer is open: an INSERT into $sb (w2) goes through" "" \
    "$(err w2 "SET lock_timeout = '10s'; INSERT INTO cats VALUES ('$sb', 10, 1, 'free')")"
check "... an UPDATE (move) in $sb too" "" \
    "$(err w2 "SET lock_timeout = '10s'; UPDATE cats SET parent_id = 4 WHERE shop = '$sb' AND id = 10")"
check "... through the coordinator too" "" \
    "$(err coord "SET lock_timeout = '10s'; INSERT INTO cats VALUES ('$sb', 11, 4, 'free')")"
check "... a writer of $sa itself waits for it (55P03 after lock_timeout)" "55P03" \
    "$(err w1 "SET lock_timeout = '1s'; INSERT INTO cats VALUES ('$sa', 11, 1, 'waits')")"
echo "COMMIT;" >&9
exec 9>&-
wait "$tree_hold_pid"
check "after the commit: $sa has the held row, $sb the free ones" "1:1-12 4:2-7 5:3-4 2:5-6 3:8-9 10:10-11|1:1-10 4:2-9 3:3-4 10:5-6 11:7-8" \
    "$(numbering "$sa")|$(numbering "$sb")"
# Concurrent writers of both scopes through the coordinator.
for s in "$sa" "$sb"; do
    (for i in $(seq 100 119); do
        q coord -c "INSERT INTO cats VALUES ('$s', $i, $((i % 2 == 0 ? 1 : 4)), 'c')" >/dev/null || echo "writer of $s failed"
    done) &
done
wait
span() { # scope: rows, lowest and highest number
    q coord -c "SELECT count(*) || ':' || min(lft) || '-' || max(rgt) FROM cats WHERE shop = '$1'"
}
check "concurrent writers of two scopes: every row numbered, 1..2n in each scope" "26:1-52|25:1-50" \
    "$(span "$sa")|$(span "$sb")"
check "... and valid on every shard" "4|0" \
    "$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('cats', \$\$SELECT count(*) FROM chronicle.tree_validate('%s')\$\$) WHERE success")"

# ---- shards moved and split: the triggers go with them ------------------------
# Citus copies a shard's triggers, arguments included, to the new placement
# (cats is colocated with nothing: moving its shards moves no other table's);
# the rows keep their numbers (the triggers stand aside while Citus fills it).
sid=$(q coord -c "SELECT get_shard_id_for_distribution_column('cats', '$sa')")
q coord -c "SELECT citus_move_shard_placement($sid, '127.0.0.1', ${port[w1]}, '127.0.0.1', ${port[w2]}, shard_transfer_mode => 'block_writes')" >/dev/null ||
    fail "citus_move_shard_placement of $sa's shard"
check "after moving $sa's shard to w2: its numbering as it was" "26:1-52" "$(span "$sa")"
q coord -c "INSERT INTO cats VALUES ('$sa', 300, 4, 'after the move')" >/dev/null || fail "INSERT after the move"
check "... a write is numbered on w2 (tree_validate there: 0), the tree functions follow it" "27:1-54|0|0A000" \
    "$(span "$sa")|$(q w2 -c "SELECT count(*) FROM chronicle.tree_validate('cats', in_scope => '$sa')")|$(err w1 "SELECT * FROM chronicle.tree_subtree(NULL::cats, 1, in_scope => '$sa')")"
sid=$(q coord -c "SELECT get_shard_id_for_distribution_column('cats', '$sb')")
q coord -c "SELECT citus_split_shard_by_split_points($sid,
              ARRAY[((shardminvalue::bigint + shardmaxvalue::bigint) / 2)::text],
              ARRAY[(SELECT nodeid FROM pg_dist_node WHERE nodeport = ${port[w1]}), (SELECT nodeid FROM pg_dist_node WHERE nodeport = ${port[w2]})],
              shard_transfer_mode => 'block_writes') FROM pg_dist_shard WHERE shardid = $sid" >/dev/null ||
    fail "citus_split_shard_by_split_points of $sb's shard"
q coord -c "INSERT INTO cats VALUES ('$sb', 300, 1, 'after the split')" >/dev/null || fail "INSERT after the split"
check "after splitting $sb's shard: numbered, 1..2n, and every shard valid" "26:1-52|5|0" \
    "$(span "$sb")|$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('cats', \$\$SELECT count(*) FROM chronicle.tree_validate('%s')\$\$) WHERE success")"

# ---- a table named like a shard is no shard --------------------------------------
# A role that may create tables in the tree's schema creates, on the
# coordinator (which holds no placement of cats), a table named like the shard
# of $sa, with a lock trigger naming an attachment and a trigger of its own.
# The tree functions there must still refuse (the scope is on another node),
# never work on that table, and never run its owner's trigger as the caller.
fake=$(q coord -c "SELECT shard_name('cats', get_shard_id_for_distribution_column('cats', '$sa'), false)")
q coord -c "CREATE ROLE shard_forger LOGIN" -c "GRANT chronicle_writer TO shard_forger" \
    -c "GRANT CREATE ON SCHEMA public TO shard_forger" -c "CREATE TABLE forged_seen (who text)" \
    -c "GRANT INSERT ON forged_seen TO PUBLIC" -c "GRANT SELECT, INSERT ON cats TO shard_forger" >/dev/null ||
    fail "CREATE ROLE shard_forger"
q coord -c "SET ROLE shard_forger" \
    -c "CREATE TABLE $fake (shop text NOT NULL, id int NOT NULL, parent_id int, name text, lft int, rgt int, depth int, PRIMARY KEY (shop, id))" \
    -c "INSERT INTO $fake VALUES ('$sa', 1, NULL, 'forged', 1, 2, 0)" \
    -c "CREATE TRIGGER chronicle_tree_1_lock BEFORE INSERT OR UPDATE OR DELETE ON $fake FOR EACH STATEMENT
        EXECUTE FUNCTION chronicle._tree_lock_trigger('id=id', 'parent=parent_id', 'scope=shop', 'on_delete=cascade', 'numbering=per_scope', 'ids=scope')" \
    -c "CREATE FUNCTION forged_seen() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN INSERT INTO public.forged_seen VALUES (current_user); RETURN NULL; END \$\$" \
    -c "CREATE TRIGGER forged_seen AFTER INSERT OR UPDATE OR DELETE ON $fake FOR EACH STATEMENT EXECUTE FUNCTION forged_seen()" \
    -c "GRANT ALL ON $fake TO PUBLIC" >/dev/null || fail "creating $fake on the coordinator"
check "a table named like $sa's shard on the coordinator: tree_subtree there still refuses (0A000)" "0A000" \
    "$(err coord "SELECT * FROM chronicle.tree_subtree(NULL::cats, 1, in_scope => '$sa')")"
check "... tree_insert too" "0A000" \
    "$(err coord "SELECT chronicle.tree_insert('cats', '{\"shop\": \"$sa\", \"id\": 90}', 1)")"
check "... tree_move and tree_delete too" "0A000|0A000" \
    "$(err coord "SELECT chronicle.tree_move('cats', 3, 1, in_scope => '$sa')")|$(err coord "SELECT chronicle.tree_delete('cats', 1, in_scope => '$sa')")"
check "... tree_validate and tree_rebuild find no shard of cats there (0A000)" "0A000|0A000" \
    "$(err coord "SELECT * FROM chronicle.tree_validate('cats')")|$(err coord "SELECT chronicle.tree_rebuild('cats')")"
check "... the forger's trigger never ran, the table is as it made it" "0|forged:1-2" \
    "$(q coord -c "SELECT count(*) FROM forged_seen")|$(q coord -c "SELECT string_agg(name || ':' || lft || '-' || rgt, ' ') FROM $fake")"
q coord -c "SET citus.enable_manual_changes_to_shards = on" -c "DROP TABLE $fake" -c "DROP FUNCTION forged_seen()" -c "DROP TABLE forged_seen" \
    -c "REVOKE ALL ON cats FROM shard_forger" -c "REVOKE CREATE ON SCHEMA public FROM shard_forger" -c "DROP ROLE shard_forger" >/dev/null ||
    fail "dropping $fake"

# ---- what is refused ----------------------------------------------------------
q coord -c "CREATE TABLE dist_plain (shop text NOT NULL, id int NOT NULL, parent_id int, PRIMARY KEY (shop, id))" \
    -c "SELECT create_distributed_table('dist_plain', 'shop')" >/dev/null
check "tree_attach on a table already distributed: 0A000 (attach first)" "0A000" \
    "$(err coord "SELECT chronicle.tree_attach('dist_plain', scope_column => 'shop')")"
q coord -c "CREATE TABLE by_id (shop text NOT NULL, id int NOT NULL, parent_id int, PRIMARY KEY (shop, id))" \
    -c "SELECT chronicle.tree_attach('by_id', scope_column => 'shop')" \
    -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('by_id', 'id', shard_count => 4)" >/dev/null
check "a tree distributed by another column than its scope: its shards' triggers refuse, TR004" "TR004" \
    "$(err coord "INSERT INTO by_id VALUES ('a', 1, NULL)")"
check "... tree_detach of it on the coordinator removes the triggers from every shard" "|4|0" \
    "$(err coord "SELECT chronicle.tree_detach('by_id')")|$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('by_id', \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'chronicle_tree%%'\$\$) WHERE success")"
check "... and its catalog row" "0" "$(q coord -c "SELECT count(*) FROM chronicle._tree_tables WHERE tbl::text = 'by_id'")"

# A lock trigger written by hand (its owner may): an attachment whose parent
# and id types differ, or whose arguments are unknown, is TR004 on the shard,
# never a misread value (a backend crash, before).
q coord -c "CREATE TABLE forged_args (shop text NOT NULL, id int NOT NULL, parent_id int, name text, lft int, rgt int, depth int, PRIMARY KEY (shop, id))" \
    -c "CREATE TRIGGER chronicle_tree_1_lock BEFORE INSERT OR UPDATE OR DELETE ON forged_args FOR EACH STATEMENT
        EXECUTE FUNCTION chronicle._tree_lock_trigger('id=name', 'parent=parent_id', 'scope=shop', 'on_delete=cascade', 'numbering=per_scope', 'ids=scope')" \
    -c "CREATE TRIGGER chronicle_tree_3_insert AFTER INSERT ON forged_args REFERENCING NEW TABLE AS chronicle_new
        FOR EACH STATEMENT EXECUTE FUNCTION chronicle._tree_insert_trigger()" \
    -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('forged_args', 'shop', shard_count => 2, colocate_with => 'none')" >/dev/null ||
    fail "forged_args"
check "a hand-written attachment with a parent of another type than the id: TR004 on the shard" "TR004" \
    "$(err coord "INSERT INTO forged_args VALUES ('a', 1, 5, 'x')")"
q coord -c "SET citus.enable_unsafe_triggers = on" -c "DROP TRIGGER chronicle_tree_1_lock ON forged_args" \
    -c "CREATE TRIGGER chronicle_tree_1_lock BEFORE INSERT OR UPDATE OR DELETE ON forged_args FOR EACH STATEMENT
        EXECUTE FUNCTION chronicle._tree_lock_trigger('id=id', 'parent=parent_id', 'scope=shop', 'on_delete=sometimes')" >/dev/null ||
    fail "forged_args, second trigger"
check "... or with an unknown on_delete and no numbering: TR004" "TR004" \
    "$(err coord "INSERT INTO forged_args VALUES ('a', 1, NULL, 'x')")"
q coord -c "DROP TABLE forged_args" >/dev/null

# ---- Citus re-creates a table: alter_distributed_table, undistribute_table -------
# Both build a new table (a new oid, the triggers with their arguments copied)
# and drop the old one, whose catalog row goes with it.
q coord -c "CREATE TABLE regrown (shop text NOT NULL, id int NOT NULL, parent_id int, PRIMARY KEY (shop, id))" \
    -c "SELECT chronicle.tree_attach('regrown', scope_column => 'shop')" \
    -c "INSERT INTO regrown VALUES ('x', 1, NULL), ('x', 2, 1), ('y', 1, NULL)" \
    -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('regrown', 'shop', shard_count => 2)" \
    -c "SELECT truncate_local_data_after_distributing_table('regrown')" \
    -c "SELECT alter_distributed_table('regrown', shard_count => 3)" >/dev/null 2>&1 ||
    fail "alter_distributed_table of a distributed tree"
q coord -c "INSERT INTO regrown VALUES ('x', 3, 1)" >/dev/null || fail "INSERT after alter_distributed_table"
check "alter_distributed_table: the shards' triggers still number (from their arguments)" "1:1-6 2:2-3 3:4-5" \
    "$(q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM regrown WHERE shop = 'x'")"
check "... tree_detach on the coordinator (no catalog row left) removes every shard's triggers" "|3|0" \
    "$(err coord "SELECT chronicle.tree_detach('regrown')")|$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('regrown', \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'chronicle_tree%%'\$\$) WHERE success")"
q coord -c "CREATE TABLE unspread (shop text NOT NULL, id int NOT NULL, parent_id int, PRIMARY KEY (shop, id))" \
    -c "SELECT chronicle.tree_attach('unspread', scope_column => 'shop')" \
    -c "SET citus.enable_unsafe_triggers = on" -c "SELECT create_distributed_table('unspread', 'shop')" \
    -c "INSERT INTO unspread VALUES ('x', 1, NULL), ('x', 2, 1)" -c "SELECT undistribute_table('unspread')" >/dev/null 2>&1 ||
    fail "undistribute_table of a distributed tree"
# The new table has the triggers but no catalog row: they stand aside (while
# Citus fills a new shard its triggers cannot tell it from such a table), so
# rows written now are not numbered until the tree is attached again.
q coord -c "INSERT INTO unspread VALUES ('x', 3, 1)" >/dev/null || fail "INSERT after undistribute_table"
check "undistribute_table: tree_detach removes the triggers Citus copied (no catalog row left)" "|0" \
    "$(err coord "SELECT chronicle.tree_detach('unspread')")|$(q coord -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'unspread'::regclass AND tgname LIKE 'chronicle_tree%'")"
check "... and tree_attach numbers it again, the row written meanwhile too" "1:1-6 2:2-3 3:4-5" \
    "$(q coord -c "SELECT chronicle.tree_attach('unspread', scope_column => 'shop')" >/dev/null; q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM unspread")"

# ---- a tree Citus adds to its metadata (a foreign key to a reference table) -----
# The table becomes a Citus local table: its rows move to a shard on the
# coordinator (the table itself, renamed, with its catalog row), behind a shell.
q coord -c "CREATE TABLE tree_shops (name text PRIMARY KEY)" -c "SELECT create_reference_table('tree_shops')" \
    -c "INSERT INTO tree_shops VALUES ('x'), ('y')" \
    -c "CREATE TABLE shop_local (id int PRIMARY KEY, parent_id int, shop text NOT NULL)" \
    -c "SELECT chronicle.tree_attach('shop_local', scope_column => 'shop')" \
    -c "INSERT INTO shop_local VALUES (1, NULL, 'x'), (2, 1, 'x'), (3, NULL, 'y')" \
    -c "ALTER TABLE shop_local ADD FOREIGN KEY (shop) REFERENCES tree_shops (name)" >/dev/null 2>&1 ||
    fail "a foreign key from a tree to a reference table"
check "the tree is a Citus local table now" "n|s" "$(q coord -c "SELECT partmethod::text || '|' || repmodel::text FROM pg_dist_partition WHERE logicalrelid = 'shop_local'::regclass")"
q coord -c "INSERT INTO shop_local VALUES (4, 1, 'x')" >/dev/null || fail "INSERT into a Citus local tree"
check "... plain SQL keeps numbering it" "1:1-6 2:2-3 4:4-5" \
    "$(q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM shop_local WHERE shop = 'x'")"
check "... the tree functions work on the coordinator (its one shard is there)" "1 2 4" \
    "$(q coord -c "SELECT string_agg(id::text, ' ') FROM chronicle.tree_subtree(NULL::shop_local, 1)")"
check "... tree_move, tree_validate" "1:1-6 4:2-3 2:4-5|0" \
    "$(q coord -c "SELECT chronicle.tree_move('shop_local', 4, 2, 'before')" >/dev/null; q coord -c "SELECT string_agg(id || ':' || lft || '-' || rgt, ' ' ORDER BY lft) FROM shop_local WHERE shop = 'x'")|$(q coord -c "SELECT count(*) FROM chronicle.tree_validate('shop_local')")"
check "... tree_detach: no catalog row, no trigger on the table or its shard, plain SQL no longer numbers" "|0|0|t" \
    "$(err coord "SELECT chronicle.tree_detach('shop_local')")|$(q coord -c "SELECT count(*) FROM chronicle._tree_tables WHERE tbl::text LIKE 'shop_local%'")|$(q coord -c "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'chronicle_tree%' AND tgrelid IN (SELECT 'shop_local'::regclass UNION ALL SELECT shard_name(logicalrelid, shardid, false)::regclass FROM pg_dist_shard WHERE logicalrelid = 'shop_local'::regclass)")|$(q coord -c "INSERT INTO shop_local VALUES (5, 1, 'x')" -c "SELECT lft IS NULL FROM shop_local WHERE id = 5")"

# ---- detach on the coordinator removes the triggers from every shard ----------
q coord -c "SELECT chronicle.tree_detach('cats')" >/dev/null || fail "tree_detach of a distributed tree"
check "tree_detach: no tree trigger left on any shard (five, after the split)" "5|0" \
    "$(q coord -c "SELECT count(*) || '|' || sum(result::int) FROM run_command_on_shards('cats', \$\$SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass AND tgname LIKE 'chronicle_tree%%'\$\$) WHERE success")"
check "... and plain SQL no longer numbers" "t" \
    "$(q coord -c "INSERT INTO cats VALUES ('$sa', 200, 1, 'free')" -c "SELECT lft IS NULL FROM cats WHERE shop = '$sa' AND id = 200")"
