#!/usr/bin/env bash
# A redacted log survives pg_dump and a plain (serial) restore into a new
# database (docs/design/erasure.md, "Dump and restore"): the restore's insert
# checks accept every row (chronicle.erasures' kept digests load before
# chronicle.events, whose rows are dumped in (stream_id, version) order
# although a redaction moved them in the table's file), and afterwards the
# events, their hashes, the erasures and a digest taken before the dump all
# verify.  (A parallel pg_restore may load the two tables at once: the design
# notes give the remedy.)  test/restore covers the other restore modes on a
# log without redactions.  Run by test/run.sh against its cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
cleanup() {
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS restore_from" \
        -c "DROP DATABASE IF EXISTS restore_to" >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS restore_from" \
    -c "DROP DATABASE IF EXISTS restore_to" -c "CREATE DATABASE restore_from" -c "CREATE DATABASE restore_to"
psql -X -q -v ON_ERROR_STOP=1 -d restore_from >/dev/null <<'SQL'
CREATE EXTENSION chronicle;
SELECT chronicle.append('person-1', 'Registered', '{"name": "Ann", "plan": "basic"}', '{"ip": "192.0.2.7"}',
                        tags => ARRAY['person:1']);
SELECT chronicle.append('person-1', 'PlanChanged', '{"plan": "pro"}');
SELECT chronicle.append('person-2', 'Registered', '{"name": "Bob", "plan": "basic"}');
SELECT chronicle.redact('person-1', 1, ARRAY['name', 'ip'], 'restore test');
SELECT chronicle.redact('person-2');
SELECT chronicle.append('person-1', 'PlanChanged', '{"plan": "basic"}');
SQL
digest=$(psql -X -At -d restore_from -c "SELECT chronicle.digest()")
state() { # what must be equal after the restore
    psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "SELECT stream_id, version, global_position, event_id, data, metadata,
        tags, encode(hash, 'hex') FROM chronicle.events ORDER BY stream_id, version" \
        -c "SELECT stream_id, version, encode(content_digest, 'hex'), paths FROM chronicle.erasures ORDER BY 1, 2"
}
state restore_from >"$out/before.txt"
pg_dump -d restore_from >"$out/dump.sql"
failed=0
if psql -X -q -v ON_ERROR_STOP=1 -d restore_to -f "$out/dump.sql" >"$out/restore.log" 2>&1; then
    echo "ok: the dump of a redacted log restores"
else
    echo "FAILED: restore"; tail -5 "$out/restore.log"; failed=1
fi
state restore_to >"$out/after.txt"
if diff -u "$out/before.txt" "$out/after.txt"; then
    echo "ok: events, hashes and erasures identical ($(wc -l <"$out/after.txt") lines)"
else
    echo "FAILED: restored state differs"; failed=1
fi
problems=$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.verify()")
digest_problems=$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.verify_digest('$digest')")
redacted=$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.events WHERE data ? 'name' OR metadata ? 'ip'")
if [[ $problems == 0 && $digest_problems == 0 && $redacted == 0 ]]; then
    echo "ok: verify() and verify_digest() find nothing; no erased value came back"
else
    echo "FAILED: verify $problems, verify_digest $digest_problems, erased values $redacted"; failed=1
fi
exit $failed
