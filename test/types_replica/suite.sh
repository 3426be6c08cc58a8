#!/usr/bin/env bash
# Event types on a hot standby: reads never write, so schemas and upcasters
# work on a read-only replica, and definitions made on the primary reach the
# standby's cached copies (relcache invalidations travel in the WAL).
# Run by test/run.sh (PGBIN is set); exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh

install_if_needed
primary=types_primary
standby=types_standby
cluster_up "$primary" "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
primary_host=$PGHOST

psql -X -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE EXTENSION chronicle;
SELECT chronicle.define_event_type('Shipped', '{"required": ["parcel"], "properties": {"parcel": {"type": "string", "pattern": "^P[0-9]+$"}}}', 2);
SELECT chronicle.define_upcaster('Shipped', 1, '{"rename": {"box": "parcel"}}');
-- Stored before the upcaster's rename: read back renamed.
SELECT chronicle.append_batch('shipment-1', '[{"type": "Shipped", "data": {"box": "P1"}, "type_version": 1}]');
SQL

cluster_standby "$primary" "$standby"
standby_host=$PGHOST
if cluster_wait_replay "$primary" "$standby"; then
    pass "the standby replayed the definitions and the event"
else
    fail "the standby did not catch up"
fi

# One standby session: it reads with the definitions replicated so far, then
# sees a new upcaster defined on the primary without reconnecting.
export PRIMARY_HOST=$primary_host
out=$(psql -X -q -A -t -h "$standby_host" -v ON_ERROR_STOP=1 <<'SQL'
SELECT pg_is_in_recovery();
SELECT row(u.*)::text FROM chronicle._upcast('Shipped', 1, '{"box": "P1"}') u;
SELECT type_version || ' ' || data FROM chronicle.read_stream('shipment-1');
SELECT chronicle._check_event('Shipped', 2, '{"parcel": "P7"}');
DO $$
BEGIN
    PERFORM chronicle._check_event('Shipped', 2, '{"parcel": "X"}');
    RAISE EXCEPTION 'the standby accepted data that breaks the schema';
EXCEPTION WHEN SQLSTATE 'SE003' THEN
    NULL;
END $$;
-- Two -c options, two transactions: the LSN must be read after the commit
-- record of the new upcaster, or the standby may not have it yet.
\set lsn `psql -X -t -A -h "$PRIMARY_HOST" -c "SELECT chronicle.define_upcaster('Shipped', 2, '{\"set\": {\"carrier\": \"post\"}}')" -c "SELECT pg_current_wal_lsn()" | tail -1`
SELECT set_config('types_test.lsn', :'lsn', false) IS NOT NULL AS lsn_set \gset
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN pg_last_wal_replay_lsn() >= current_setting('types_test.lsn')::pg_lsn;
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT row(u.*)::text FROM chronicle._upcast('Shipped', 1, '{"box": "P1"}') u;
SELECT type_version || ' ' || data FROM chronicle.read_all(category => 'shipment');
SQL
) || fail "the standby session stopped with an error (the lines it did not print fail below)"
mapfile -t got <<<"$out"
check "the session is on the standby" "t" "${got[0]:-}"
check "_upcast applies the replicated upcaster" '(2,"{""parcel"": ""P1""}")' "${got[1]:-}"
check "read_stream returns the event upcast" '2 {"parcel": "P1"}' "${got[2]:-}"
check "_check_event accepts valid data (and raised SE003 for invalid data)" "t" "${got[3]:-}"
check "_upcast in the same session sees the upcaster defined since" \
    '(3,"{""parcel"": ""P1"", ""carrier"": ""post""}")' "${got[4]:-}"
check "read_all in the same session applies it" '3 {"parcel": "P1", "carrier": "post"}' "${got[5]:-}"
check "nothing else was printed" 6 "${#got[@]}"
checks_done
