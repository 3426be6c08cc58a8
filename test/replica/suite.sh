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
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
source test/lib/cluster.sh

if [[ -z ${PGBIN:-} ]]; then
    private_install "$(chronicle_workdir)/install" || exit 1
fi
export PGBIN
work=$(chronicle_workdir)
primary=replica_primary
standby=replica_standby
out="$work/replica-out"
rm -rf "$out"
mkdir -p "$out"
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# psql_on NAME ARGS...: psql against cluster NAME, database replica.
psql_on() {
    local name=$1
    shift
    (cluster_env "$name" && psql -X -d replica "$@")
}

cleanup() {
    cluster_stop "$standby"
    cluster_stop "$primary"
}
trap cleanup EXIT

cluster_init "$primary" "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" || exit 1
cluster_start "$primary" || exit 1
(cluster_env "$primary" && psql -X -q -d postgres -c "CREATE DATABASE replica") || exit 1
psql_on "$primary" -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION chronicle" || exit 1

# The standby: a base backup of the primary with standby.signal and
# primary_conninfo written by -R, on its own socket directory.
sbase="$work/$standby"
as_pg "$PGBIN/pg_ctl" -D "$sbase/data" -m immediate stop >/dev/null 2>&1 || true
rm -rf "$sbase"
mkdir -p "$sbase/sock"
[[ $(id -u) -eq 0 ]] && chown -R postgres "$sbase"
(cluster_env "$primary" && as_pg "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres \
    -D "$sbase/data" -R -X stream --no-sync) || { echo "pg_basebackup failed"; exit 1; }
echo "unix_socket_directories = '$sbase/sock'" >>"$sbase/data/postgresql.conf"
cluster_start "$standby" || exit 1
[[ $(psql_on "$standby" -A -t -c "SELECT pg_is_in_recovery()") == t ]] || { echo "standby is not in recovery"; exit 1; }

for f in test/replica/setup/*.sql; do
    [[ -e $f ]] || continue
    echo "setup: $f"
    psql_on "$primary" -q -v ON_ERROR_STOP=1 -f "$f" >"$out/setup-$(basename "$f").log" 2>&1 ||
        { cat "$out/setup-$(basename "$f").log"; fail "setup $f"; exit 1; }
done

# Wait until the standby has replayed everything the primary wrote: poll the
# LSNs (bounded), never sleep as an assertion.
target=$(psql_on "$primary" -A -t -c "SELECT pg_current_wal_lsn()")
replayed=no
for _ in $(seq 1 600); do
    if [[ $(psql_on "$standby" -A -t -c "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn") == t ]]; then
        replayed=yes
        break
    fi
    sleep 0.1
done
[[ $replayed == yes ]] || { fail "standby did not replay up to $target within 60 s"; exit 1; }
echo "standby replayed up to $target"

for f in test/replica/checks/*.sql; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .sql)
    psql_on "$primary" -a -v VERBOSITY=verbose -f "$f" >"$out/$name.primary" 2>&1
    psql_on "$standby" -a -v VERBOSITY=verbose -f "$f" >"$out/$name.standby" 2>&1
    if grep -q "ERROR" "$out/$name.primary"; then
        grep -B2 -A3 ERROR "$out/$name.primary" | head -20
        fail "check $name raised an error on the primary"
    elif ! diff -u "$out/$name.primary" "$out/$name.standby" >"$out/$name.diff"; then
        head -60 "$out/$name.diff"
        fail "check $name differs between primary and standby"
    else
        echo "check $name: identical on primary and standby ($(grep -c '^(' "$out/$name.primary") results)"
    fi
done

for f in test/replica/standby_writes/*.sql; do
    [[ -e $f ]] || continue
    while IFS= read -r stmt; do
        [[ -z ${stmt// /} || $stmt == --* ]] && continue
        result=$(psql_on "$standby" -A -t -v VERBOSITY=sqlstate -c "$stmt" 2>&1)
        if [[ $result == "ERROR:  25006" ]]; then
            echo "standby refuses (25006): $stmt"
        else
            fail "on the standby, expected 25006 from: $stmt; got: $result"
        fi
    done <"$f"
done

if ((failures > 0)); then
    echo "$failures replica check(s) failed"
    exit 1
fi
echo "replica: all checks passed"
