# erasure_splits.sh: redaction and verify after Citus changes the shard
# boundaries (sourced by test/citus/suite.sh after erasure.sh).  A shard
# split moves a stream and its group's receipt stream into different shards
# (the stream's receipt stream is then another name); a tenant isolated in a
# shard of one hash value has no chronicle-erasures-<n> name in its shard at
# all.  Both stay on their node here (the split's children are placed on the
# same node), so the suites after this one see the same placements.

# ---- a split between a redacted stream and its receipt stream -----------
s=split-person-2
q coord -c "SELECT chronicle.append('$s', 'Registered', '{\"email\": \"s@example.org\", \"phone\": \"555\"}')" \
    -c "SELECT chronicle.redact('$s', 1, ARRAY['email'], 'before the split')" >/dev/null || fail "redacting $s"
rs=$(q coord -c "SELECT stream_id FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->'events'->0->>'stream_id' = '$s'")
sh=$(q coord -c "SELECT get_shard_id_for_distribution_column('chronicle.events', '$s')")
split_point=$(q coord -c "SELECT least(worker_hash('$s'::text), worker_hash('$rs'::text))")
node_id=$(q coord -c "SELECT n.nodeid FROM pg_dist_node n JOIN pg_dist_shard_placement p ON p.nodeport = n.nodeport WHERE p.shardid = $sh")
q coord -c "SELECT citus_split_shard_by_split_points($sh, ARRAY['$split_point'], ARRAY[$node_id, $node_id], 'block_writes')" >/dev/null ||
    fail "splitting the shard of $s"
check "after the split, $s and its receipt stream $rs are in different shards" "false" \
    "$(q coord -c "SELECT (get_shard_id_for_distribution_column('chronicle.events', '$s') = get_shard_id_for_distribution_column('chronicle.events', '$rs'))::text")"
check "verify of the redacted stream after the split: intact (its receipt is found where it was written)" "" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'")"
check "verify() of every stream agrees" "" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify() WHERE stream_id = '$s'")"
check "a second redaction after the split: its receipt goes to a stream of the new shard group; verify intact" "1|true|" \
    "$(q coord -c "SELECT chronicle.redact('$s', 1, ARRAY['phone'], 'after the split')")|$(q coord -c "SELECT (SELECT bool_and(get_shard_id_for_distribution_column('chronicle.events', stream_id) = get_shard_id_for_distribution_column('chronicle.events', '$s')) FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->>'reason' = 'after the split' AND data->'events'->0->>'stream_id' = '$s')::text")|$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'")"
check "... verify() of every stream too (of its two receipts, the one recorded last)" "" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify() WHERE stream_id = '$s'")"
rs2=$(q coord -c "SELECT stream_id FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->>'reason' = 'after the split' AND data->'events'->0->>'stream_id' = '$s'")
check "the register records both receipt streams of the event, the latest redaction's last" "{$rs,$rs2}|true" \
    "$(q coord -c "SELECT receipt_streams::text FROM chronicle.erasures WHERE stream_id = '$s'")|$([[ $rs != "$rs2" ]] && echo true)"
# verify of the stream walks the chains of the receipt streams it read, the
# one the split left in another shard too: a receipt edited with the event
# it describes would pass otherwise (verify's problems above are the
# stream's own: erasure.sh edited a receipt of its y, which may be $rs).
rs_v=$(q coord -c "SELECT version FROM chronicle.events WHERE stream_id = '$rs' AND data->'events'->0->>'stream_id' = '$s'")
check "verify of the stream walks its older receipt stream's chain too (a receipt of it edited, in a transaction on the node)" \
    "$rs|$rs_v|hash mismatch" \
    "$(q "$(worker_of "$s")" -c "BEGIN" -c "SET LOCAL session_replication_role = replica" \
         -c "UPDATE $(shard_of "$rs") SET data = jsonb_set(data, '{reason}', '\"edited\"') WHERE stream_id = '$rs' AND version = $rs_v" \
         -c "SELECT stream_id || '|' || version || '|' || split_part(problem, ':', 1) FROM chronicle.verify('$s') WHERE stream_id = '$rs' AND version = $rs_v" \
         -c "ROLLBACK")"
# The register is not chained: a row naming only the older receipt stream
# cannot make verify prefer the older receipt to the one in the stream's
# receipt stream now (the event edited back to what the first redaction left).
check "a register row striking the later receipt stream: the receipt in the stream's receipt stream now still counts" \
    "$s|1|content differs from what its redaction left (receipt in stream $rs2)" \
    "$(q "$(worker_of "$s")" -c "BEGIN" -c "SET LOCAL session_replication_role = replica" \
         -c "UPDATE $(shard_of "$s") SET data = '{\"phone\": \"555\"}' WHERE stream_id = '$s' AND version = 1" \
         -c "UPDATE $(q coord -c "SELECT shard_name('chronicle.erasures', get_shard_id_for_distribution_column('chronicle.erasures', '$s'))") SET receipt_streams = ARRAY['$rs'] WHERE stream_id = '$s'" \
         -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'" \
         -c "ROLLBACK")"
# A register row recording no receipt stream (NULL: written before the
# column existed; or only names no receipt stream has): verify of the stream
# reads every receipt stream, as before, and finds the receipts.
check "a register row without receipt streams (NULL, or a writer's stream named): verify reads every receipt stream, intact" "|" \
    "$(q coord -c "BEGIN" -c "UPDATE chronicle.erasures SET receipt_streams = NULL WHERE stream_id = '$s'" \
         -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'" -c "ROLLBACK")|$(q coord -c "BEGIN" \
         -c "UPDATE chronicle.erasures SET receipt_streams = ARRAY['$s'] WHERE stream_id = '$s'" \
         -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'" -c "ROLLBACK")"
# A redacted event put back (a superuser with triggers off) is still caught
# by verify of the stream: its receipt is in the receipt stream of before.
q "$(worker_of "$s")" -c "SET session_replication_role = replica" \
    -c "UPDATE $(shard_of "$s") SET data = '{\"email\": \"s@example.org\", \"phone\": \"555\"}', original_digest = '\\x' WHERE stream_id = '$s' AND version = 1" >/dev/null ||
    fail "putting back $s"
both=$(q coord -c "SELECT string_agg(n, ', ' ORDER BY n COLLATE \"C\") FROM unnest(ARRAY['$rs', '$rs2']) n")
check "verify of the stream catches a redacted event put back, its receipts in two receipt streams (both named)" \
    "$s|1|no original_digest, but receipts in streams $both say it was redacted (its content put back?)" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'")"
# verify of the stream reads the receipt streams its register rows record
# (and its receipt stream now), not every receipt stream of the cluster: a
# receipt forged into another receipt stream naming the event is not read
# there; verify() of every stream reads it (and its broken chain).
other=$receipts_y
[[ $other == "$rs" || $other == "$rs2" ]] && other=$receipts_x
[[ $other != "$rs" && $other != "$rs2" ]] || fail "no receipt stream apart from $s's"
q "$(worker_of "$other")" -c "SET session_replication_role = replica" \
    -c "UPDATE $(shard_of "$other") SET data = jsonb_set(data, '{events}', data->'events' || jsonb_build_array(jsonb_build_object('stream_id', '$s', 'version', 1))) WHERE stream_id = '$other' AND version = 1" >/dev/null ||
    fail "forging a receipt for $s into $other"
all3=$(q coord -c "SELECT string_agg(n, ', ' ORDER BY n COLLATE \"C\") FROM unnest(ARRAY['$rs', '$rs2', '$other']) n")
check "verify of the stream reads only its recorded receipt streams; verify() of every stream reads them all" \
    "$s|1|no original_digest, but receipts in streams $both say it was redacted (its content put back?)|$s|1|no original_digest, but receipts in streams $all3 say it was redacted (its content put back?)" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$s') WHERE stream_id = '$s'")|$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify() WHERE stream_id = '$s'")"

# ---- a tenant isolated in a shard of its own ----------------------------
t=isolated-person-2
q coord -c "SELECT chronicle.append('$t', 'Registered', '{\"email\": \"t@example.org\"}')" >/dev/null || fail "appending $t"
q coord -c "SELECT isolate_tenant_to_new_shard('chronicle.events', '$t', 'CASCADE', shard_transfer_mode => 'block_writes')" >/dev/null ||
    fail "isolating $t"
check "$t is alone in its shard (one hash value)" "true" \
    "$(q coord -c "SELECT (shardminvalue = shardmaxvalue)::text FROM pg_dist_shard WHERE shardid = get_shard_id_for_distribution_column('chronicle.events', '$t')")"
check "verify of a stream in an isolated shard: intact, at once (no search for a receipt stream name)" "0" \
    "$(PGOPTIONS='-c statement_timeout=20s' q coord -c "SELECT count(*) FROM chronicle.verify('$t')" 2>&1)"
check "redact of a stream in an isolated shard: 0A000 at once (no receipt stream can be placed with it), nothing written" "0A000|1|0" \
    "$(PGOPTIONS='-c statement_timeout=20s' err coord "SELECT chronicle.redact('$t', 1, ARRAY['email'])")|$(q coord -c "SELECT count(*) FROM chronicle.events WHERE stream_id = '$t' AND data ? 'email' AND original_digest = '\\x'")|$(q coord -c "SELECT count(*) FROM chronicle.erasures WHERE stream_id = '$t'")"
