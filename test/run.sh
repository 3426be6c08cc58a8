#!/usr/bin/env bash
# make test: every suite against a throwaway PostgreSQL cluster.
#   0. the schedule        every sql/*.sql is in sql/schedule (test/lib/check_schedule.sh)
#   1. pg_regress          sql/schedule's files against expected/*.out
#   2. isolation tester    test/isolation/specs/*.spec
#   3. further suites      test/*/suite.sh (each starts what else it needs)
# Prints a closing "N passed, N failed, N skipped" line; exits non-zero if
# anything failed.  A suite that exits 77 (automake's convention) could not run
# here (test/citus without Citus installed): it is counted as skipped, never
# as passed.
#
# While developing, narrow it down (CI always runs everything):
#   make test REGRESS="tree_basic" ISOLATION="tree_scopes" SUITES="hostile"
# SUITES names the test/*/suite.sh directories to run (all by default; "none"
# runs none); REGRESS and ISOLATION reach the sub-makes through MAKEFLAGS.
set -uo pipefail
cd "$(dirname "$0")/.."
source test/lib/cluster.sh

test/lib/deps.sh || exit 1
make -s >/dev/null || { echo "build failed" >&2; exit 1; }

work=$(chronicle_workdir)
private_install "$work/install" || { echo "private install failed" >&2; exit 1; }
export PGBIN
cluster_up test || exit 1

passed=0
failed=0
skipped=0
failures=()

# count_pg_regress LOG: add pg_regress's per-test verdicts to the totals.
count_pg_regress() {
    local ok bad
    ok=$(grep -cE '\.\.\. ok' "$1")
    bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$1")
    passed=$((passed + ok))
    failed=$((failed + bad))
    ((bad == 0)) || failures+=($(grep -E '\.\.\. (FAILED|failed)' "$1" | awk '{print ($1 == "test" ? $2 : $1)}'))
}

run_suite() {
    local name=$1 log=$2
    shift 2
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    grep -E '\.\.\. |tests (passed|failed)' "$log"
    count_pg_regress "$log"
    if ((rc != 0)) && ! grep -qE '\.\.\. (FAILED|failed)' "$log"; then
        # The runner itself failed (could not connect, bad schedule, ...).
        tail -20 "$log"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

mkdir -p "$work/logs"
echo "== schedule"
if test/lib/check_schedule.sh >"$work/logs/schedule.log" 2>&1; then
    echo "test schedule ... ok"
    passed=$((passed + 1))
else
    echo "test schedule ... FAILED"
    cat "$work/logs/schedule.log"
    failed=$((failed + 1))
    failures+=("schedule")
fi
run_suite "pg_regress" "$work/logs/regress.log" make -s regresscheck
[[ -f regression.diffs ]] && cp regression.diffs "$work/logs/regress.diffs"
run_suite "isolation" "$work/logs/isolation.log" make -s isolationcheck
[[ -f output_iso/regression.diffs ]] && cp output_iso/regression.diffs "$work/logs/isolation.diffs"

for suite in test/*/suite.sh; do
    [[ -e $suite ]] || continue
    name=$(basename "$(dirname "$suite")")
    if [[ -n ${SUITES:-} ]] && [[ " $SUITES " != *" $name "* ]]; then
        continue
    fi
    echo "== $name"
    bash "$suite" >"$work/logs/$name.log" 2>&1
    rc=$?
    if ((rc == 0)); then
        echo "test $name ... ok"
        passed=$((passed + 1))
    elif ((rc == 77)); then
        echo "test $name ... skipped ($(tail -1 "$work/logs/$name.log"))"
        skipped=$((skipped + 1))
    else
        echo "test $name ... FAILED (log: $work/logs/$name.log)"
        tail -30 "$work/logs/$name.log"
        failed=$((failed + 1))
        failures+=("$name")
    fi
done

for diffs in regression.diffs output_iso/regression.diffs; do
    if [[ -s $diffs ]]; then
        echo "== $diffs (first 80 lines)"
        head -80 "$diffs"
    fi
done
((failed == 0)) || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
