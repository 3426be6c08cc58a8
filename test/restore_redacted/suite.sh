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
source test/lib/cluster.sh
source test/lib/checks.sh
out=$(mktemp -d)
at_exit rm -rf "$out"
scratch_db restore_from
scratch_db restore_to
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
if psql -X -q -v ON_ERROR_STOP=1 -d restore_to -f "$out/dump.sql" >"$out/restore.log" 2>&1; then
    pass "the dump of a redacted log restores"
else
    fail "restore"
    tail -5 "$out/restore.log"
fi
state restore_to >"$out/after.txt" || true # a failed restore fails the check below
check_files "events, hashes and erasures identical ($(wc -l <"$out/before.txt") lines)" "$out/before.txt" "$out/after.txt"
check "verify() finds nothing" 0 "$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.verify()")"
check "verify_digest() of the digest taken before the dump finds nothing" 0 \
    "$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.verify_digest('$digest')")"
check "no erased value came back" 0 \
    "$(psql -X -At -d restore_to -c "SELECT count(*) FROM chronicle.events WHERE data ? 'name' OR metadata ? 'ip'")"
checks_done
