# checks.sh: a suite's verdicts, counted.  Source it (after test/lib/cluster.sh
# where both are used); record every check with pass, fail, check or
# check_files, and end the suite with checks_done, which prints
#   N checks passed, M failed
# and exits non-zero when anything failed (test/run.sh reads the exit status).

passes=0
failures=0

# pass TEXT / fail TEXT: one check's verdict, printed as "ok: TEXT" or "FAIL: TEXT".
pass() {
    echo "ok: $*"
    passes=$((passes + 1))
}
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# check WHAT EXPECTED ACTUAL: passes when the two strings are equal.
check() {
    if [[ $2 == "$3" ]]; then
        pass "$1"
    else
        fail "$1: expected [$2], got [$3]"
    fi
}

# check_files WHAT EXPECTED_FILE ACTUAL_FILE: passes when the files are equal;
# otherwise the first 60 lines of their diff follow the verdict.
check_files() {
    local diff
    if diff=$(diff -u "$2" "$3"); then
        pass "$1"
    else
        fail "$1 (- $2, + $3):"
        head -60 <<<"$diff"
    fi
}

# checks_done: the summary line; exits 1 when a check failed, else 0.
checks_done() {
    echo "$passes checks passed, $failures failed"
    if ((failures > 0)); then exit 1; fi
    exit 0
}
