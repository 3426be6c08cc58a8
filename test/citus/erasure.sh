# erasure.sh: redaction on a Citus cluster (sourced by test/citus/suite.sh,
# after distribute(); docs/design/citus.md "Erasure on a cluster").
# redact is delegated to the node of the stream; the shard's immutability
# trigger takes the permit there; the receipt goes to the receipt stream of
# the stream's shard group (chronicle-erasures-<n>), on the same node, in the
# same local transaction; verify() finds it there, on the node and through
# the coordinator, and catches a forged redaction on the node.

# gdpr_on NODE: the first of person-1 .. person-200 placed on NODE.
gdpr_on() {
    local i
    for ((i = 1; i <= 200; i++)); do
        if [[ $(node_of "person-$i") == "${port[$1]}" ]]; then
            echo "person-$i"
            return
        fi
    done
}
x=$(gdpr_on w1)
y=$(gdpr_on w2)
[[ -n $x && -n $y ]] || fail "no person streams on both workers"
echo "erasure streams: $x on w1, $y on w2"
q coord -c "SELECT chronicle.append('$x', 'Registered', '{\"name\": \"Ann\", \"email\": \"ann@example.org\", \"phone\": \"555\"}', '{\"ip\": \"10.0.0.1\"}')" \
    -c "SELECT chronicle.append('$x', 'Moved', '{\"city\": \"Oslo\"}')" \
    -c "SELECT chronicle.append('$y', 'Registered', '{\"name\": \"Bo\", \"email\": \"bo@example.org\"}')" \
    -c "SELECT chronicle.append('$y', 'Moved', '{\"city\": \"Rome\"}')" >/dev/null || fail "appending the erasure streams"

check "chronicle.erasures is distributed with the streams (the register of a stream lives on its node)" "h|1" \
    "$(q coord -c "SELECT p.partmethod::text || '|' || (p.colocationid = (SELECT colocationid FROM pg_dist_partition
                   WHERE logicalrelid = 'chronicle.streams'::regclass))::int FROM pg_dist_partition p WHERE p.logicalrelid = 'chronicle.erasures'::regclass")"
check "redact is delegated by its stream_id, colocated with chronicle.streams" "0" \
    "$(q coord -c "SELECT o.distribution_argument_index FROM pg_dist_object o JOIN pg_dist_partition p ON p.colocationid = o.colocationid
                   WHERE o.objid = 'chronicle.redact(text, bigint, text[], text)'::regprocedure AND p.logicalrelid = 'chronicle.streams'::regclass")"

# ---- redact through the coordinator (delegated) and on the worker -------
check "redact of one event through the coordinator: 1 changed" "1" \
    "$(q coord -c "SELECT chronicle.redact('$x', 1, ARRAY['email', 'ip'], 'GDPR art. 17')")"
check "... its data and metadata lost the paths, nothing else" '{"name": "Ann", "phone": "555"}|{}|true' \
    "$(q coord -c "SELECT data::text || '|' || metadata::text || '|' || (original_digest <> '\\x') FROM chronicle.events WHERE stream_id = '$x' AND version = 1")"
check "redact of a whole stream on its own worker (no schema: everything): 2 changed" "2" \
    "$(q w2 -c "SELECT chronicle.redact('$y')")"
check "a second redaction of the same event: the register counts it" "1|2|{email,ip,phone}" \
    "$(q coord -c "SELECT chronicle.redact('$x', 1, ARRAY['phone'])")|$(q coord -c "SELECT redactions || '|' || paths::text FROM chronicle.erasures WHERE stream_id = '$x' AND version = 1")"

# ---- receipts per shard group, on the node of the events they describe --
receipts_x=$(q coord -c "SELECT stream_id FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->'events'->0->>'stream_id' = '$x' LIMIT 1")
receipts_y=$(q coord -c "SELECT stream_id FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->'events'->0->>'stream_id' = '$y' LIMIT 1")
check "each stream's receipts in a chronicle-erasures-<n> stream of its shard group" "true|true|$(node_of "$x")|$(node_of "$y")" \
    "$(q coord -c "SELECT (get_shard_id_for_distribution_column('chronicle.events', '$receipts_x') = get_shard_id_for_distribution_column('chronicle.events', '$x'))
                   || '|' || (get_shard_id_for_distribution_column('chronicle.events', '$receipts_y') = get_shard_id_for_distribution_column('chronicle.events', '$y'))")|$(node_of "$receipts_x")|$(node_of "$receipts_y")"
check "no receipt went to chronicle-erasures (a stream on one node only)" "0" \
    "$(q coord -c "SELECT count(*) FROM chronicle.events WHERE stream_id = 'chronicle-erasures'")"
check "the receipts are in their node's log (read_all there), with that node's transaction ids" "2|1" \
    "$(q w1 -c "SELECT count(*) FROM chronicle.read_all('0', 0, 100000) WHERE stream_id = '$receipts_x'")|$(q w2 -c "SELECT count(*) FROM chronicle.read_all('0', 0, 100000) WHERE stream_id = '$receipts_y'")"
check "the register records each redacted event's receipt stream (verify of the stream reads it)" "{$receipts_x}|{$receipts_y}|{$receipts_y}" \
    "$(q coord -c "SELECT string_agg(receipt_streams::text, '|' ORDER BY stream_id = '$y', version) FROM chronicle.erasures WHERE stream_id IN ('$x', '$y')")"
check "the receipt names the event, its paths and the reason" "$x|1|[\"email\", \"ip\"]|GDPR art. 17|postgres" \
    "$(q coord -c "SELECT (data->'events'->0->>'stream_id') || '|' || (data->'events'->0->>'version') || '|' || (data->'events'->0->'paths')::text
                   || '|' || (data->>'reason') || '|' || (data->>'by') FROM chronicle.events WHERE stream_id = '$receipts_x' AND version = 1")"

# ---- verify: intact on the node and through the coordinator -------------
check "verify of each redacted stream (delegated), of every stream (these), on the node: intact" "0|0|0|0|0" \
    "$(q coord -c "SELECT count(*) FROM chronicle.verify('$x')")|$(q coord -c "SELECT count(*) FROM chronicle.verify('$y')")|$(q coord -c "SELECT count(*) FROM chronicle.verify() WHERE stream_id ~ '^(person-|chronicle-erasures)'")|$(q w1 -c "SELECT count(*) FROM chronicle.verify('$x')")|$(q w2 -c "SELECT count(*) FROM chronicle.verify('$y')")"

check "verify(stream, list_redacted => true) on the cluster names the redacted events" "$y|1|redacted (not a problem): all of data and metadata removed
$y|2|redacted (not a problem): all of data and metadata removed
$x|1|redacted (not a problem): removed email, ip, phone" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$y', list_redacted => true)")
$(q w1 -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$x', true)")"

# ---- refusals -------------------------------------------------------------
check "redact inside a transaction block on the coordinator (not delegated, no shard here): 0A000, nothing written" "0A000|1" \
    "$(err coord "BEGIN; SELECT chronicle.redact('$x', 2, ARRAY['city']); COMMIT")|$(q coord -c "SELECT count(*) FROM chronicle.events WHERE stream_id = '$x' AND data ? 'city'")"
check "redact(NULL) through the coordinator, now that redact is delegated: 22004, no crash" "22004|22004" \
    "$(err coord "SELECT chronicle.redact(NULL)")|$(err coord "PREPARE r(text) AS SELECT chronicle.redact(\$1, 1, ARRAY['x']); EXECUTE r(NULL); EXECUTE r(NULL); EXECUTE r(NULL); EXECUTE r(NULL); EXECUTE r(NULL); EXECUTE r(NULL)")"
check "redact_tagged on a distributed store: 0A000 (its streams may be on every node)" "0A000" \
    "$(err coord "SELECT chronicle.redact_tagged('person:1')")"
check "a receipt stream cannot be redacted: 22023" "22023" "$(err coord "SELECT chronicle.redact('$receipts_x')")"
check "nobody appends to a receipt stream, through the coordinator or on its node: 42501" "42501|42501" \
    "$(err coord "SELECT chronicle.append('$receipts_x', 'EventsRedacted', '{}')")|$(err w1 "SELECT chronicle.append('$receipts_x', 'EventsRedacted', '{}')")"
check "... nor to any chronicle-erasures-<digits> name, not yet used: 42501" "42501" \
    "$(err coord "SELECT chronicle.append('chronicle-erasures-4000000000', 'EventsRedacted', '{}')")"
q coord -c "CREATE ROLE citus_eraser LOGIN IN ROLE chronicle_writer" >/dev/null || fail "creating role citus_eraser"
check "a writer cannot redact, through the coordinator or on the node: 42501" "42501|42501" \
    "$(err coord "SET ROLE citus_eraser; SELECT chronicle.redact('$x', 2, ARRAY['city'])")|$(err w1 "SET ROLE citus_eraser; SELECT chronicle.redact('$x', 2, ARRAY['city'])")"
check "an UPDATE of a shard outside redact is still SE002" "SE002" \
    "$(err w1 "UPDATE chronicle.events SET data = '{}' WHERE stream_id = '$x' AND version = 2")"
# A session with Citus's local execution off (citus.enable_local_execution):
# redact's statements on the local shard would go through a connection to
# this node, another backend, whose trigger has no permit (SE002 before).
q coord -c "SELECT chronicle.append('local-off-1', 'Registered', '{\"a\": 1, \"b\": 2}')" >/dev/null || fail "appending local-off-1"
lo_node=$(worker_of local-off-1)
check "redact on the node with citus.enable_local_execution off: 1 changed, its receipt written, verify intact" "1|1|" \
    "$(q "$lo_node" -c "SET citus.enable_local_execution = off" -c "SELECT chronicle.redact('local-off-1', 1, ARRAY['a'])" 2>&1)|$(q coord -c "SELECT count(*) FROM chronicle.events WHERE stream_id ~ '^chronicle-erasures-' AND data->'events'->0->>'stream_id' = 'local-off-1'")|$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('local-off-1')")"

# ---- ledger digests per node: each worker's log, its own horizon ----------
group_of() { q coord -c "SELECT groupid FROM pg_dist_node WHERE nodeport = ${port[$1]}"; }
d1=$(q w1 -c "SELECT chronicle.digest()")
d2=$(q w2 -c "SELECT chronicle.digest()")
check "a worker's digest names its node (group id) and covers its log's streams" \
    "$(group_of w1)|$(q w1 -c "SELECT count(DISTINCT stream_id) FROM chronicle.read_all('0', 0, 100000)")|$(group_of w2)|$(q w2 -c "SELECT count(*) FROM chronicle.read_all('0', 0, 100000)")" \
    "$(q w1 -c "SELECT '$d1'::jsonb->>'node'")|$(q w1 -c "SELECT '$d1'::jsonb->>'streams'")|$(q w2 -c "SELECT '$d2'::jsonb->>'node'")|$(q w2 -c "SELECT '$d2'::jsonb->>'events'")"
check "the digests are recorded, with ids that do not collide between nodes" "2|2" \
    "$(q coord -c "SELECT count(*) || '|' || count(DISTINCT digest_id) FROM chronicle.digests WHERE root IN (decode('$(q w1 -c "SELECT '$d1'::jsonb->>'root'")', 'hex'), decode('$(q w2 -c "SELECT '$d2'::jsonb->>'root'")', 'hex'))")"
check "verify_digest on w2 of w2's digest: the log extends it" "0" \
    "$(q w2 -c "SELECT count(*) FROM chronicle.verify_digest('$d2')")"
check "verify_digest on w1 of w1's digest names the stream the suite tampered with there (the digest took its stored hash)" "$a|changed" \
    "$(q w1 -c "SELECT stream_id || '|' || split_part(problem, ':', 1) FROM chronicle.verify_digest('$d1')")"
check "a node's digest on another node, a digest without its node: 22023" "22023|22023" \
    "$(err w2 "SELECT * FROM chronicle.verify_digest('$d1')")|$(err w2 "SELECT * FROM chronicle.verify_digest('$d2'::jsonb - 'node')")"
check "digest and verify_digest on the coordinator (no shard, no log): 0A000" "0A000|0A000" \
    "$(err coord "SELECT chronicle.digest()")|$(err coord "SELECT * FROM chronicle.verify_digest('$d2')")"
# digest_nodes on the coordinator: digest() on every node, as the caller
# there (an admin, and a reader: digest() reads the log as its caller).
q coord -c "CREATE ROLE citus_auditor LOGIN IN ROLE chronicle_admin, chronicle_reader" \
    -c "CREATE ROLE citus_admin_only LOGIN IN ROLE chronicle_admin" >/dev/null || fail "creating roles citus_auditor, citus_admin_only"
before=$(q coord -c "SELECT count(*) FROM chronicle.digests")
dn=$(q coord -U citus_auditor -c "SELECT node || ' ' || digest::text FROM chronicle.digest_nodes()")
dn1=$(awk -v g="$(group_of w1)" '$1 == g { sub(/^[^ ]+ /, ""); print }' <<<"$dn")
dn2=$(awk -v g="$(group_of w2)" '$1 == g { sub(/^[^ ]+ /, ""); print }' <<<"$dn")
check "digest_nodes, as an admin: a row per node of _log_nodes(), in order, each digest naming its node" \
    "$(q coord -c "SELECT string_agg(node::text, ',' ORDER BY node) FROM chronicle._log_nodes()")|$(group_of w1)|$(group_of w2)" \
    "$(awk '{ print $1 }' <<<"$dn" | paste -sd,)|$(q coord -c "SELECT '$dn1'::jsonb->>'node'")|$(q coord -c "SELECT '$dn2'::jsonb->>'node'")"
check "... recorded (a row each, written on its node)" "$((before + 2))" "$(q coord -c "SELECT count(*) FROM chronicle.digests")"
check "each is its node's digest now (the root digest() gives there); w2's verifies on w2" \
    "$(q w1 -c "SELECT chronicle.digest()->>'root'")|$(q w2 -c "SELECT chronicle.digest()->>'root'")|0" \
    "$(q coord -c "SELECT '$dn1'::jsonb->>'root'")|$(q coord -c "SELECT '$dn2'::jsonb->>'root'")|$(q w2 -c "SELECT count(*) FROM chronicle.verify_digest('$dn2')")"
check "each node takes and records its digest in its own transaction: a rolled-back call's digests stay recorded" "$((before + 6))" \
    "$(q coord -U citus_auditor -c "BEGIN" -c "SELECT count(*) FROM chronicle.digest_nodes()" -c "ROLLBACK" >/dev/null; q coord -c "SELECT count(*) FROM chronicle.digests")"
check "digest_nodes for a writer (digest() on each node is its right, digest_nodes is not), a reader, an admin that cannot read the log (nor run digest() on a node): 42501" "42501|42501|42501|42501" \
    "$(err coord "SET ROLE citus_eraser; SELECT * FROM chronicle.digest_nodes()")|$(err coord "SET ROLE chronicle_reader; SELECT * FROM chronicle.digest_nodes()")|$(err coord "SET ROLE citus_admin_only; SELECT * FROM chronicle.digest_nodes()")|$(err w1 "SET ROLE citus_admin_only; SELECT chronicle.digest()")"

# ---- forgeries on the node (a superuser with triggers off) ----------------
shard_of() { q coord -c "SELECT shard_name('chronicle.events'::regclass, get_shard_id_for_distribution_column('chronicle.events', '$1'))"; }
sx=$(shard_of "$x")
sy=$(shard_of "$y")
q w1 -c "SET session_replication_role = replica" \
    -c "UPDATE $sx SET data = '{\"name\": \"Ann\", \"email\": \"forged@example.org\"}' WHERE stream_id = '$x' AND version = 1" \
    -c "UPDATE $sx SET data = '{}', original_digest = sha256(int4send(octet_length(data::text)) || convert_to(data::text, 'UTF8')
        || int4send(octet_length(metadata::text)) || convert_to(metadata::text, 'UTF8')) WHERE stream_id = '$x' AND version = 2" >/dev/null ||
    fail "forging on w1"
expected="$x|1|content differs from what its redaction left (receipt in stream $receipts_x)
$x|2|redacted without a receipt in stream $receipts_x: original_digest was set without chronicle.redact"
check "verify on the node catches a redacted event edited and a redaction without a receipt" "$expected" \
    "$(q w1 -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$x') ORDER BY version")"
check "... so do verify of the stream and of every stream through the coordinator" "$expected|$expected" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$x') ORDER BY version")|$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify() WHERE stream_id ~ '^(person-|chronicle-erasures)' ORDER BY stream_id = '$x' DESC, stream_id, version")"
# A redacted event put back as appended (its link holds again): its receipt says it was redacted.
q w2 -c "SET session_replication_role = replica" \
    -c "UPDATE $sy SET data = '{\"city\": \"Rome\"}', original_digest = '\\x' WHERE stream_id = '$y' AND version = 2" >/dev/null ||
    fail "putting back on w2"
check "verify on the node catches a redacted event put back (its receipt names it)" \
    "$y|2|no original_digest, but a receipt in stream $receipts_y says it was redacted (its content put back?)" \
    "$(q w2 -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify('$y')")"
check "... and verify of every stream through the coordinator" "$expected
$y|2|no original_digest, but a receipt in stream $receipts_y says it was redacted (its content put back?)" \
    "$(q coord -c "SELECT stream_id || '|' || version || '|' || problem FROM chronicle.verify() WHERE stream_id ~ '^(person-|chronicle-erasures)' ORDER BY stream_id = '$x' DESC, stream_id, version")"
# A receipt edited (its content digest made to match a forged content): its
# chain breaks, and verify of the stream walks its receipt stream too.
q w2 -c "SET session_replication_role = replica" \
    -c "UPDATE $sy SET data = jsonb_set(data, '{events,0,reason}', '\"edited\"') WHERE stream_id = '$receipts_y' AND version = 1" >/dev/null ||
    fail "editing a receipt on w2"
check "verify of the redacted stream reports its edited receipt (the receipt stream's chain)" "$receipts_y|1|hash mismatch" \
    "$(q w2 -c "SELECT stream_id || '|' || version || '|' || split_part(problem, ':', 1) FROM chronicle.verify('$y') WHERE stream_id = '$receipts_y'")"
# What only a digest sees, on the node: the edited receipt's chain, and a
# stream's tail deleted with its version lowered (verify sees neither as a
# problem of the stream itself).
q w2 -c "SET session_replication_role = replica" \
    -c "DELETE FROM $sy WHERE stream_id = '$y' AND version = 2" \
    -c "UPDATE $(q coord -c "SELECT shard_name('chronicle.streams', get_shard_id_for_distribution_column('chronicle.streams', '$y'))") SET version = 1 WHERE stream_id = '$y'" >/dev/null ||
    fail "cutting $y's tail on w2"
check "verify_digest on w2 names the edited receipt stream and the shortened stream" "$receipts_y|changed
$y|shortened" \
    "$(q w2 -c "SELECT stream_id || '|' || split_part(problem, ':', 1) FROM chronicle.verify_digest('$d2')")"
