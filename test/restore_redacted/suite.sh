#!/usr/bin/env bash
# A redacted log survives every way of dumping and restoring it, with every
# trigger on (docs/design/erasure.md, "Dump and restore"): the insert check
# on chronicle.events checks each row it loads, a redacted one included,
# from the row alone (its original_digest column), so the order in which
# pg_restore loads the tables does not matter.  Restores, each into a new
# database:
#   plain        pg_dump (plain SQL) | psql
#   serial       pg_dump -Fc, pg_restore -j 1
#   parallel     pg_dump -Fc, pg_restore -j 4
#   events_first pg_restore -L with chronicle.events' data listed before
#                chronicle.erasures' and every other table's (serial: that
#                order for certain; under the old design, which looked the
#                kept digest up in chronicle.erasures, this failed with SE002)
#   events_first_parallel  the same list, pg_restore -j 4
# After each: the events (every column, hashes included), the erasures and
# the stream rows equal the source's; verify() and verify_digest() with a
# digest taken before the dump find nothing; no erased value came back; the
# insert check was on during the restore (its trigger is enabled and refuses
# a forged row afterwards).  test/restore covers the other restore modes on a
# log without redactions.  Run by test/run.sh against its cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh
out=$(mktemp -d)
chmod a+rwx "$out"
at_exit rm -rf "$out"
for db in restore_from plain serial parallel events_first events_first_parallel; do
    scratch_db "$db"
done

# The source: redactions by path, whole events, a stream, a tag, an
# "x-personal" schema, a second redaction of one event, and appends after
# them; a redacted event is not the last of its stream.
psql -X -q -v ON_ERROR_STOP=1 -d restore_from >/dev/null <<'SQL'
CREATE EXTENSION chronicle;
SELECT chronicle.define_event_type('Signed', '{"type": "object", "properties": {
    "email": {"type": "string", "x-personal": true}, "plan": {"type": "string"}}}');
SELECT chronicle.append('person-1', 'Registered', '{"name": "Ann", "plan": "basic"}', '{"ip": "192.0.2.7"}',
                        tags => ARRAY['person:1']);
SELECT chronicle.append('person-1', 'PlanChanged', '{"plan": "pro"}');
SELECT chronicle.append('person-2', 'Registered', '{"name": "Bob", "plan": "basic"}');
SELECT chronicle.append('person-3', 'Signed', '{"email": "cy@example.org", "plan": "pro"}');
SELECT chronicle.append('order-1', 'Placed', '{"by": "Dee", "total": 12}', tags => ARRAY['person:4']);
SELECT chronicle.append('order-2', 'Placed', '{"by": "Dee", "total": 30}', tags => ARRAY['person:4']);
SELECT chronicle.append_batch('bulk-' || i, '[{"type": "Counted", "data": {"n": 1}}, {"type": "Counted", "data": {"n": 2}}]')
  FROM generate_series(1, 200) i;
SELECT chronicle.redact('person-1', 1, ARRAY['name', 'ip'], 'restore test');
SELECT chronicle.redact('person-1', 1, ARRAY['plan'], 'restore test, again');
SELECT chronicle.redact('person-2');
SELECT chronicle.redact('person-3', 1);
SELECT chronicle.redact_tagged('person:4', ARRAY['by'], 'tagged');
SELECT chronicle.append('person-1', 'PlanChanged', '{"plan": "basic"}');
SELECT chronicle.append('order-1', 'Shipped', '{"to": "somewhere"}');
SQL
digest=$(psql -X -At -d restore_from -c "SELECT chronicle.digest()")
state() { # what must be equal after the restore
    psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "SELECT e.* FROM chronicle.events e ORDER BY stream_id, version" \
        -c "SELECT r.* FROM chronicle.erasures r ORDER BY stream_id, version" \
        -c "SELECT stream_id, category, version FROM chronicle.streams ORDER BY stream_id"
}
state restore_from >"$out/before.txt"
redacted=$(psql -X -At -d restore_from -c "SELECT count(*) FROM chronicle.events WHERE original_digest <> ''")
pg_dump -d restore_from >"$out/dump.sql"
pg_dump -Fc -d restore_from -f "$out/dump.fc"
pg_restore -l "$out/dump.fc" >"$out/toc.txt"
# The same list with chronicle.events' data moved before every other table's.
events_line=$(grep 'TABLE DATA chronicle events ' "$out/toc.txt")
awk -v ev="$events_line" '$0 == ev { next } /TABLE DATA/ && !done { print ev; done = 1 } { print }' \
    "$out/toc.txt" >"$out/events_first.list"


if ((redacted == 5)); then pass "the source holds $redacted redacted events"; else fail "only $redacted redacted events"; fi
# The list really puts chronicle.events' data before chronicle.erasures'.
events_at=$(grep -n 'TABLE DATA chronicle events' "$out/events_first.list" | cut -d: -f1)
erasures_at=$(grep -n 'TABLE DATA chronicle erasures' "$out/events_first.list" | cut -d: -f1)
if [[ -n $events_at && -n $erasures_at ]] && ((events_at < erasures_at)); then
    pass "the events_first list loads chronicle.events (line $events_at) before chronicle.erasures (line $erasures_at)"
else
    fail "the events_first list does not put chronicle.events first ($events_at, $erasures_at)"
fi

restored() { # restored DB: the checks after its restore
    local db=$1
    state "$db" >"$out/$db.txt"
    if diff -u "$out/before.txt" "$out/$db.txt" >"$out/$db.diff"; then
        pass "$db: events (every column), erasures and streams identical ($(wc -l <"$out/$db.txt") lines)"
    else
        fail "$db: restored state differs"; head -20 "$out/$db.diff"
    fi
    local problems digest_problems erased enabled
    problems=$(psql -X -At -d "$db" -c "SELECT count(*) FROM chronicle.verify()")
    digest_problems=$(psql -X -At -d "$db" -c "SELECT count(*) FROM chronicle.verify_digest('$digest')")
    erased=$(psql -X -At -d "$db" -c "SELECT count(*) FROM chronicle.events
        WHERE stream_id <> 'chronicle-erasures' AND data ?| ARRAY['name', 'email', 'by'] OR metadata ? 'ip' OR (stream_id = 'person-1' AND version = 1 AND data ? 'plan')")
    if [[ $problems == 0 && $digest_problems == 0 && $erased == 0 ]]; then
        pass "$db: verify() and verify_digest() find nothing; no erased value came back"
    else
        fail "$db: verify $problems, verify_digest $digest_problems, erased values $erased"
    fi
    # The insert check is on (never disabled by the restore): enabled, and it
    # refuses a redacted row whose original_digest does not link.
    enabled=$(psql -X -At -d "$db" -c "SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname)
        FROM pg_trigger WHERE tgrelid = 'chronicle.events'::regclass AND NOT tgisinternal")
    local refused
    refused=$(psql -X -At -d "$db" 2>&1 <<'SQL' || true
\set VERBOSITY sqlstate
INSERT INTO chronicle.events (stream_id, version, global_position, event_id, type, data, recorded_at, tx_id, hash, original_digest)
SELECT stream_id, version + 1, global_position + 100000, gen_random_uuid(), type, '{}', recorded_at, tx_id, hash, sha256('x')
  FROM chronicle.events WHERE stream_id = 'person-2' AND version = 1;
SQL
)
    if [[ $enabled == "events_immutable=O,events_immutable_truncate=O,events_insert_check=O" && $refused == *SE002* ]]; then
        pass "$db: the insert check is enabled and refuses a forged redacted row ($refused)"
    else
        fail "$db: triggers '$enabled', forged row: '$refused'"
    fi
}

restore() { # restore DB COMMAND...
    local db=$1
    shift
    if "$@" >"$out/$db.log" 2>&1; then
        pass "$db: restored without errors (${*%% *} ...)"
    else
        fail "$db: restore failed"; grep -m5 ERROR "$out/$db.log" || tail -5 "$out/$db.log"
    fi
    restored "$db"
}

restore plain psql -X -q -v ON_ERROR_STOP=1 -d plain -f "$out/dump.sql"
restore serial pg_restore -e -j 1 -d serial "$out/dump.fc"
restore parallel pg_restore -e -j 4 -d parallel "$out/dump.fc"
restore events_first pg_restore -e -L "$out/events_first.list" -d events_first "$out/dump.fc"
restore events_first_parallel pg_restore -e -j 4 -L "$out/events_first.list" -d events_first_parallel "$out/dump.fc"
checks_done
