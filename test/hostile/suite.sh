#!/usr/bin/env bash
# Hostile input against every public function (docs/reference/errors.md): NULLs, empty
# and 1 MB strings, control characters, bad JSON shapes, 10,000-deep jsonb,
# extreme numbers, relations that are not trees, tables changed after attach,
# broken numbering.  Each case (test/hostile/gen.py) records its SQLSTATE;
# the suite fails on XX000, on a backend that died, or on any difference from
# test/hostile/expected.txt (so a change of behaviour is noticed and reviewed).
# Run by test/run.sh against its cluster.  To accept a deliberate change:
#   HOSTILE_ACCEPT=1 bash test/hostile/suite.sh   (then review the diff)
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
# python3 is installed by test/lib/deps.sh: a missing one is a failure, not a skip.
db=hostile
out=$(mktemp)
at_exit rm -f "$out"
scratch_db "$db"

# The server log, when this is test/run.sh's cluster (socket directory beside it).
log="${PGHOST:-}/../server.log"
[[ -r $log ]] || log=""
log_start=0
[[ -n $log ]] && log_start=$(wc -c <"$log")

psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f test/hostile/setup.sql >/dev/null
# Errors are the point: their messages go to stderr, SQLSTATEs to $out.
rc=0
python3 test/hostile/gen.py | psql -X -q -d "$db" >"$out" 2>/dev/null || rc=$?
if ((rc != 0)); then
    echo "psql exited with $rc: the backend died or the connection was lost" >&2
    tail -3 "$out" >&2
    exit 1
fi

cases=$(python3 -c 'import sys; sys.path.insert(0, "test/hostile"); import gen; print(len(gen.cases))')
got=$(grep -c '^case ' "$out" || true)
if ((got != cases)); then
    echo "only $got of $cases cases reported a result" >&2
    exit 1
fi
if grep -q ' XX000$' "$out"; then
    echo "internal errors (XX000):" >&2
    grep ' XX000$' "$out" >&2
    exit 1
fi
if [[ -n $log ]] && tail -c +"$((log_start + 1))" "$log" |
    grep -E 'terminated by signal|server process .* (was terminated|exited with exit code)|PANIC'; then
    echo "a server process died during the hostile cases (see above)" >&2
    exit 1
fi
psql -X -q -t -A -d "$db" -c "SELECT 'backend alive'"

sed 's/^case //' "$out" >"$out.cases"
mv "$out.cases" "$out"
if [[ ${HOSTILE_ACCEPT:-} == 1 ]]; then
    cp "$out" test/hostile/expected.txt
    echo "expected.txt rewritten ($cases cases)"
    exit 0
fi
if ! diff -u test/hostile/expected.txt "$out"; then
    echo "SQLSTATEs differ from test/hostile/expected.txt (- expected, + now)" >&2
    exit 1
fi
echo "$cases hostile cases: SQLSTATEs as expected, no XX000, no crash"
