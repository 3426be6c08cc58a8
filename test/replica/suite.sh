#!/usr/bin/env bash
# Replica test (run by `make test`): every read function works on a hot
# standby and returns exactly what the primary returns; writes there fail
# cleanly with 25006 (read_only_sql_transaction).
#
# Data-driven, so later modules add files rather than edit this script:
#   setup/*.sql           run on the primary, in name order (database "replica",
#                         where chronicle is already created)
#   checks/*.sql          run on both servers once the standby has replayed
#                         everything; the outputs must be identical
#   standby_writes/*.sql  one statement per line (blank and -- lines skipped);
#                         each must fail on the standby with SQLSTATE 25006
#
# It starts its own throwaway primary and a standby made with
# `pg_basebackup -R`, and removes both at exit.  Exits non-zero on any
# difference.
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh

install_if_needed || exit 1
work=$(chronicle_workdir)
primary=replica_primary
standby=replica_standby
out="$work/replica-out"
scratch_dir "$out"

# on NAME ARGS...: psql against cluster NAME, database replica.
on() {
    psql_on "$1" replica "${@:2}"
}

cluster_up "$primary" "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" || exit 1
psql_on "$primary" postgres -q -c "CREATE DATABASE replica" || exit 1
on "$primary" -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION chronicle" || exit 1
cluster_standby "$primary" "$standby" || exit 1
check "the standby is in recovery" t "$(on "$standby" -A -t -c "SELECT pg_is_in_recovery()")"

for f in test/replica/setup/*.sql; do
    [[ -e $f ]] || continue
    echo "setup: $f"
    on "$primary" -q -v ON_ERROR_STOP=1 -f "$f" >"$out/setup-$(basename "$f").log" 2>&1 ||
        { cat "$out/setup-$(basename "$f").log"; fail "setup $f"; checks_done; }
done

if cluster_wait_replay "$primary" "$standby"; then
    pass "the standby replayed everything the primary wrote"
else
    fail "the standby did not catch up"
    checks_done
fi

for f in test/replica/checks/*.sql; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .sql)
    on "$primary" -a -v VERBOSITY=verbose -f "$f" >"$out/$name.primary" 2>&1
    on "$standby" -a -v VERBOSITY=verbose -f "$f" >"$out/$name.standby" 2>&1
    if grep -q "ERROR" "$out/$name.primary"; then
        grep -B2 -A3 ERROR "$out/$name.primary" | head -20
        fail "check $name raised an error on the primary"
    else
        check_files "check $name: identical on primary and standby ($(grep -c '^(' "$out/$name.primary") results)" \
            "$out/$name.primary" "$out/$name.standby"
    fi
done

for f in test/replica/standby_writes/*.sql; do
    [[ -e $f ]] || continue
    while IFS= read -r stmt; do
        [[ -z ${stmt// /} || $stmt == --* ]] && continue
        check "standby refuses (25006): $stmt" "ERROR:  25006" \
            "$(on "$standby" -A -t -v VERBOSITY=sqlstate -c "$stmt" 2>&1)"
    done <"$f"
done

checks_done
