#!/usr/bin/env bash
# Event types on a hot standby: reads never write, so schemas and upcasters
# work on a read-only replica, and definitions made on the primary reach the
# standby's cached copies (relcache invalidations travel in the WAL).
# Run by test/run.sh (PGBIN is set); exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh

primary=types_primary
standby=types_standby
work=$(chronicle_workdir)
cleanup() {
    cluster_stop "$standby"
    cluster_stop "$primary"
}
trap cleanup EXIT

cluster_init "$primary" "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
echo "local replication all trust" >>"$work/$primary/data/pg_hba.conf"
cluster_start "$primary"
primary_host=$PGHOST

psql -X -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
CREATE EXTENSION chronicle;
SELECT chronicle.define_event_type('Shipped', '{"required": ["parcel"], "properties": {"parcel": {"type": "string", "pattern": "^P[0-9]+$"}}}', 2);
SELECT chronicle.define_upcaster('Shipped', 1, '{"rename": {"box": "parcel"}}');
-- Stored before the upcaster's rename: read back renamed.
SELECT chronicle.append_batch('shipment-1', '[{"type": "Shipped", "data": {"box": "P1"}, "type_version": 1}]');
SQL

# The standby: a base backup of the primary, streaming from it.
rm -rf "$work/$standby"
mkdir -p "$work/$standby/sock"
[[ $(id -u) -eq 0 ]] && chown -R postgres "$work/$standby"
as_pg "$PGBIN/pg_basebackup" -h "$primary_host" -U postgres -D "$work/$standby/data" -R -X stream -c fast
sed -i "s|^unix_socket_directories = .*|unix_socket_directories = '$work/$standby/sock'|" \
    "$work/$standby/data/postgresql.conf"
cluster_start "$standby"
standby_host=$PGHOST

# wait_for_replay: block until the standby has replayed everything the primary wrote.
wait_for_replay() {
    local lsn
    lsn=$(psql -X -t -A -h "$primary_host" -c "SELECT pg_current_wal_lsn()")
    psql -X -q -t -A -h "$standby_host" -v ON_ERROR_STOP=1 -v lsn="$lsn" <<'SQL' >/dev/null
SELECT set_config('types_test.lsn', :'lsn', false);
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN pg_last_wal_replay_lsn() >= current_setting('types_test.lsn')::pg_lsn;
        PERFORM pg_sleep(0.1);
    END LOOP;
    IF pg_last_wal_replay_lsn() < current_setting('types_test.lsn')::pg_lsn THEN
        RAISE EXCEPTION 'standby did not catch up';
    END IF;
END $$;
SQL
}
wait_for_replay

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
)
echo "$out"; echo
expected='t
(2,"{""parcel"": ""P1""}")
2 {"parcel": "P1"}
t
(3,"{""parcel"": ""P1"", ""carrier"": ""post""}")
3 {"parcel": "P1", "carrier": "post"}'
if [[ "$out" != "$expected" ]]; then
    echo "unexpected output from the standby; expected:" >&2
    echo "$expected" >&2
    exit 1
fi
echo "standby: schemas checked, upcasters applied, new definitions seen"
