#!/usr/bin/env bash
# Crash recovery (issue 12): a cluster of its own with fsync = on and
# synchronous_commit = on; four clients (test/crash/crash.py, psycopg 3)
# append (single with expected versions, new streams with expected version 0,
# batches, a contended stream without one), insert and move tree nodes, and
# keep a projection current, each recording what the server acknowledged
# (only after COMMIT returned).  Three times the server is stopped with
# `pg_ctl -m immediate` mid-load; once one backend waiting inside
# chronicle.append is killed with kill -9 (the postmaster then restarts the
# others).  After each: every acknowledged write is present, versions are
# contiguous per stream, verify() and tree_validate are empty, the projection
# equals its rebuild, and writes continue.  The crash moment is "after N
# acknowledged writes"; no assertion depends on timing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh
py=/usr/bin/python3 # Debian's python3, with python3-psycopg (test/lib/deps.sh)

install_if_needed
name=crash
base="$(chronicle_workdir)/$name"
cluster_up "$name" "fsync = on" "synchronous_commit = on" "full_page_writes = on" \
    "restart_after_crash = on" "max_connections = 30"
state="$base/state"
scratch_dir "$state"

$py test/crash/crash.py setup "$state"
check "fsync, synchronous_commit" "on on" \
    "$(psql -X -A -t -c "SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')")"

# crash_round ROUND TARGET HOW: load until TARGET acknowledged writes, crash,
# restart; crash.py check then prints what it found (and fails on a loss).
crash_round() {
    local round=$1 target=$2 how=$3
    echo "-- round $round: crash by $how after $target acknowledged writes"
    rm -f "$state/reached"
    $py test/crash/crash.py load "$state" "$round" "$target" &
    local loader=$!
    local waited=0
    until [[ -e $state/reached ]]; do
        if ! kill -0 "$loader" 2>/dev/null; then
            echo "the load ended before $target writes were acknowledged" >&2
            wait "$loader" || true
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
        ((waited < 900)) || { echo "hang guard: no $target acknowledged writes in 90 s" >&2; return 1; }
    done
    if [[ $how == immediate ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$base/data" -m immediate stop >/dev/null || return 1
        wait "$loader" || return 1
        cluster_start "$name" || return 1
    else
        $py test/crash/crash.py kill "$state" || return 1
        wait "$loader" || return 1
    fi
    $py test/crash/crash.py check "$state"
}

for round in "1 300 immediate" "2 300 immediate" "3 300 immediate" "4 200 kill -9"; do
    read -r r target how <<<"$round"
    if crash_round "$r" "$target" "$how"; then
        pass "round $r ($how): every acknowledged write present, versions contiguous, verify and tree_validate empty, projection equals its rebuild, writes continue"
    else
        fail "round $r ($how)"
        checks_done
    fi
done
# The server log agrees: four crash recoveries (three immediate stops, and the
# postmaster's reinitialisation after the killed backend).
check "server log: crash recoveries" 4 "$(grep -c 'not properly shut down; automatic recovery' "$base/server.log" || true)"
check "server log: backends killed by signal 9" 1 "$(grep -c 'was terminated by signal 9' "$base/server.log" || true)"
checks_done
