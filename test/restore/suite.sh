#!/usr/bin/env bash
# Restore test (run by `make test`): every way a DBA restores a chronicle
# database gives back exactly what was dumped, and the restored database
# keeps working.
#
# A throwaway cluster; database "src" is filled by populate.sql.  Then, each
# into a database of its own:
#   plain        pg_dump (plain SQL) | psql
#   custom       pg_dump -Fc, pg_restore (serial)
#   parallel     pg_dump -Fc, pg_restore -j 4
#   clean        pg_restore --clean --if-exists into a database holding other data
#   data_only    pg_restore -s (schema) first, then pg_dump -a (plain) | psql
#   precreated   pg_restore into a database where CREATE EXTENSION chronicle ran
#   sections     pg_restore --section=pre-data, data, post-data in three steps
#   single_txn   pg_restore --single-transaction
#   disable_triggers pg_restore -s, then pg_restore -a -j 4 --disable-triggers
#   no_owner     pg_restore --no-owner --no-privileges
#   other_cluster pg_restore -j 4 into a new cluster whose transaction ids were
#                started above the source's (pg_resetwal --epoch)
# After each: checks.sql (counts and content digests of every table, replays,
# read_all, verify(), tree_validate) must print exactly what it prints on
# "src", and continue.sql (appends, batch, new stream, projection, poll, tree
# insert/move/INSERT, verify) must print continue.expected.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
source test/lib/cluster.sh
source test/lib/checks.sh

install_if_needed || exit 1
work=$(chronicle_workdir)
name=restore
out="$work/restore-out"
scratch_dir "$out"
cluster_up "$name" || exit 1

psql_db() {
    local db=$1
    shift
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}

psql_db postgres -c "CREATE DATABASE src" || exit 1
psql_db src -f "$here/populate.sql" >"$out/populate.log" 2>&1 || { cat "$out/populate.log"; exit 1; }
psql_db src -f "$here/checks.sql" >"$out/src.txt" 2>&1 || { cat "$out/src.txt"; exit 1; }
cat "$out/src.txt"

# The source's physical order is not version order (populate.sql makes sure):
# the restores below depend on pg_dump copying chronicle.events in version order.
disordered=$(psql_db src -At -c "SELECT count(*) FROM (SELECT stream_id, version,
    lag(version) OVER (PARTITION BY stream_id ORDER BY ctid) AS before FROM chronicle.events) e
    WHERE before > version")
if [[ $disordered -gt 0 ]]; then
    pass "source has $disordered events stored before an earlier version of their stream"
else
    fail "source stores every stream in version order: the dump order is not tested"
fi

# The source itself must be what populate.sql meant: these counts are the
# test's expectations, not read back from the source.
expect_src() {
    local line=$1
    if grep -qxF "$line" <(cut -d'|' -f1,2 "$out/src.txt"); then
        pass "source has $line"
    else
        fail "source lacks '$line'"
    fi
}
for line in 'events|45' 'streams|13' 'reducers|3' 'event_types|2' 'upcasters|2' 'event_type_owners|3' 'projections|1' \
    'projection_rows|6' 'subscriptions|1' 'checkpoints|1' 'parked|1' 'tree_tables|1' 'tree_rows|7' \
    'replays|23' 'read_all|45' 'verify_problems|0' 'tree_problems|0' 'sequence_ahead|t'; do
    expect_src "$line"
done

"$PGBIN/pg_dump" -d src -f "$out/plain.sql" || fail "pg_dump (plain) failed"
"$PGBIN/pg_dump" -d src -Fc -f "$out/dump.fc" || fail "pg_dump -Fc failed"
"$PGBIN/pg_dump" -d src -a -f "$out/data.sql" || fail "pg_dump -a failed"

# check_restored DB: the restored database equals the source and keeps working.
check_restored() {
    local db=$1
    psql_db "$db" -f "$here/checks.sql" >"$out/$db.txt" 2>&1
    check_files "$db: every table, replay and read_all equal the source's; verify and tree_validate empty" \
        "$out/src.txt" "$out/$db.txt"
    psql_db "$db" -f "$here/continue.sql" >"$out/$db.continue" 2>&1
    check_files "$db: appends, projection, poll and tree writes continue; verify empty" \
        "$here/continue.expected" "$out/$db.continue"
}

# restore_case DB COMMAND...: run the restore, which must succeed without errors.
restore_case() {
    local db=$1
    shift
    echo "== $db: $*"
    if "$@" >"$out/$db.log" 2>&1; then
        pass "$db: restore ran without errors"
    else
        fail "$db: restore failed"
        tail -20 "$out/$db.log"
    fi
    check_restored "$db"
}

psql_db postgres -c "CREATE DATABASE plain" -c "CREATE DATABASE custom" -c "CREATE DATABASE parallel" \
    -c "CREATE DATABASE clean" -c "CREATE DATABASE data_only" -c "CREATE DATABASE precreated" || exit 1

restore_case plain psql_db plain -f "$out/plain.sql"
restore_case custom "$PGBIN/pg_restore" -e -d custom "$out/dump.fc"
restore_case parallel "$PGBIN/pg_restore" -e -j 4 -d parallel "$out/dump.fc"

# A database that already holds chronicle data (other events, another tree
# row): --clean replaces all of it.
psql_db clean -f "$here/populate.sql" >/dev/null 2>&1 || fail "populating clean failed"
psql_db clean -c "SELECT chronicle.append('acct-1', 'Deposited', '{\"amount\": 5}')" \
    -c "SELECT chronicle.append('other-1', 'Noted', '{}')" \
    -c "INSERT INTO public.menu VALUES (50, 1, 'a', 'extra')" >/dev/null || fail "extra data in clean failed"
restore_case clean "$PGBIN/pg_restore" -e --clean --if-exists -d clean "$out/dump.fc"

# Data only, the way a DBA does it: the schema first (it creates the
# extension), then the data of a plain data-only dump.
restore_data_only() {
    "$PGBIN/pg_restore" -e -s -d data_only "$out/dump.fc" && psql_db data_only -f "$out/data.sql"
}
restore_case data_only restore_data_only

psql_db precreated -c "CREATE EXTENSION chronicle" || fail "CREATE EXTENSION in precreated failed"
restore_case precreated "$PGBIN/pg_restore" -e -d precreated "$out/dump.fc"

# The three sections in separate steps (the data loads before the tree
# table's triggers exist, as in a full restore); one transaction; a
# data-only parallel load with --disable-triggers after the schema (nothing
# checks the rows then: checks.sql runs verify() and tree_validate); and
# without ownership statements.
psql_db postgres -c "CREATE DATABASE sections" -c "CREATE DATABASE single_txn" \
    -c "CREATE DATABASE disable_triggers" -c "CREATE DATABASE no_owner" || exit 1
restore_sections() {
    local s
    for s in pre-data data post-data; do
        "$PGBIN/pg_restore" -e --section="$s" -d sections "$out/dump.fc" || return 1
    done
}
restore_case sections restore_sections
restore_case single_txn "$PGBIN/pg_restore" -e --single-transaction -d single_txn "$out/dump.fc"
restore_disable_triggers() {
    "$PGBIN/pg_restore" -e -s -d disable_triggers "$out/dump.fc" &&
        "$PGBIN/pg_restore" -e -a -j 4 --disable-triggers -d disable_triggers "$out/dump.fc"
}
restore_case disable_triggers restore_disable_triggers
restore_case no_owner "$PGBIN/pg_restore" -e --no-owner --no-privileges -d no_owner "$out/dump.fc"

# Into another cluster, the way docs/design/operations.md says: its 64-bit
# transaction ids started above the source's (pg_resetwal --epoch) before the
# restore, so restored events stay below read_all's horizon and new appends
# sort after them.
fresh=restore_fresh
at_exit cluster_stop "$fresh"
epoch=$(psql_db src -At -c "SELECT (pg_current_xact_id()::text::numeric / 4294967296)::bigint + 1")
cluster_init "$fresh" || exit 1
as_pg "$PGBIN/pg_resetwal" --epoch="$epoch" "$work/$fresh/data" >"$out/resetwal.log" 2>&1 ||
    fail "pg_resetwal --epoch=$epoch failed: $(cat "$out/resetwal.log")"
cluster_start "$fresh" || exit 1
psql_db postgres -c "CREATE DATABASE other_cluster" || exit 1
restore_case other_cluster "$PGBIN/pg_restore" -e -j 4 -d other_cluster "$out/dump.fc"
cluster_stop "$fresh"
cluster_env "$name"

# An event type whose owner role was dropped (its regrole OID dangles): a
# dump does not keep that owner.  pg_dump would write the OID as a number,
# and regrole input takes a number as it is, so on another cluster the type
# would belong to whichever role has that OID there.  Restored without an
# owner row, the type belongs to the extension's owner: a writer may not
# claim it.
psql_db src -c "CREATE ROLE restore_gone IN ROLE chronicle_writer" -c "SET ROLE restore_gone" \
    -c "SELECT chronicle.define_event_type('GoneType', '{\"type\": \"object\"}')" -c "RESET ROLE" \
    -c "DROP ROLE restore_gone" >/dev/null || fail "defining GoneType as a role then dropped failed"
"$PGBIN/pg_dump" -d src -f "$out/gone.sql" || fail "pg_dump (a dropped owner) failed"
# (the owners' row is "GoneType<TAB>owner"; the schema's has more columns)
check "a type of a dropped role is dumped without its owner row" 0 "$(grep -cE $'^GoneType\t[^\t]*$' "$out/gone.sql")"
psql_db postgres -c "CREATE DATABASE gone" || exit 1
psql_db gone -f "$out/gone.sql" >"$out/gone.log" 2>&1 || fail "restoring gone failed: $(tail -5 "$out/gone.log")"
check "gone: GoneType's schema is restored, without an owner row" "1|0" "$(psql_db gone -At -c "
    SELECT (SELECT count(*) FROM chronicle.event_types WHERE type = 'GoneType') || '|' ||
           (SELECT count(*) FROM chronicle.event_type_owners WHERE type = 'GoneType')")"
claim=$(psql_db gone -c "CREATE ROLE restore_claimer IN ROLE chronicle_writer" -c '\set VERBOSITY sqlstate' \
    -c "SET ROLE restore_claimer" -c "SELECT chronicle.define_event_type('GoneType', '{}')" 2>&1 >/dev/null)
check "gone: a writer may not claim GoneType" "ERROR:  42501" "$claim"

checks_done
