#!/usr/bin/env bash
# make check-valgrind: the whole pg_regress suite with the server under
# valgrind memcheck, the way PostgreSQL's wiki ("Valgrind") does it: the
# server as installed (no USE_VALGRIND build needed), postgres started under
#   valgrind --trace-children=yes --leak-check=no --error-exitcode=128
#            --suppressions=test/valgrind/server.supp --error-markers=...
# with one log file per process.  An error exit makes the postmaster treat the
# backend as crashed, so an error also shows as failed regression tests.
#
# Verdict: the run fails on any memcheck error with one of chronicle's frames
# (chronicle.so or a src/ file) in its stack, and on failed regression tests.
# server.supp holds suppressions for server frames only (the stock server is
# not built with USE_VALGRIND, so palloc'd memory and padding written to WAL
# and to the statistics look uninitialised to memcheck); it names no chronicle
# frame, and this script refuses one that does.  Errors in server frames that
# no suppression covers are listed, not counted against chronicle.
#
# Not a test/*/suite.sh (make test does not run it): it takes several minutes.
# Narrow it like make test: make check-valgrind REGRESS="tree_basic"
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
start=$(date +%s)

supp=$PWD/test/valgrind/server.supp
if grep -nE 'chronicle|/src/' "$supp" | grep -v '^[0-9]*:#'; then
    echo "server.supp must not suppress errors in chronicle's frames (lines above)" >&2
    exit 1
fi
EXTRA_PACKAGES=valgrind test/lib/deps.sh || exit 1
make -s -j2 >/dev/null || { echo "build failed" >&2; exit 1; }

work=$(chronicle_workdir)
private_install "$work/install-valgrind" || exit 1
name=valgrind
base="$work/$name"
# Valgrind makes the server ~20-50 times slower: fewer processes, no autovacuum,
# no JIT (LLVM's generated code is not what this checks).
cluster_init "$name" "max_connections = 20" "autovacuum = off" "jit = off" "shared_buffers = 32MB" \
    "log_line_prefix = '%m [%p] '" || exit 1
vglogs="$base/vglogs"
mkdir -p "$vglogs"
[[ $(id -u) -eq 0 ]] && chown -R postgres "$base"

# initdb ran without valgrind; from here the server binary is the wrapper.
mv "$PGBIN/postgres" "$PGBIN/postgres.real"
cat >"$PGBIN/postgres" <<WRAP
#!/bin/sh
exec valgrind --quiet --trace-children=yes --leak-check=no --track-origins=yes \\
    --num-callers=40 --error-exitcode=${VALGRIND_ERROR_EXITCODE:-128} \\
    --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END --gen-suppressions=all \\
    --suppressions=$supp --log-file=$vglogs/%p.log \\
    "$PGBIN/postgres.real" "\$@"
WRAP
chmod a+rx "$PGBIN/postgres"

at_exit cluster_stop "$name"
cluster_start "$name" || exit 1
echo "server under valgrind: $(psql -X -A -t -c 'SELECT version()' | cut -d, -f1)"

rc=0
make -s regresscheck >"$base/regress.log" 2>&1 || rc=1
grep -E '\.\.\. |tests (passed|failed)' "$base/regress.log"
[[ -f regression.diffs ]] && cp regression.diffs "$base/regress.diffs"
as_pg "$PGBIN/pg_ctl" -D "$base/data" -m fast -w -t 300 stop >/dev/null

# Split the logs into errors (between the markers) and sort them by whose
# frames they have: chronicle's are in chronicle.so, or in one of src/'s files
# (with debug information valgrind names the file, not the object).
export vglogs
srcfiles=$(cd src && find . -type f \( -name '*.cpp' -o -name '*.h' \) -printf '%f\n' | sort -u | tr '\n' ' ')
export srcfiles
/usr/bin/python3 - <<'PY' || rc=1
import glob, os, re, sys
ours_files = set(os.environ["srcfiles"].split())
def ours_frame(line):
    if "chronicle.so" in line:
        return True
    m = re.search(r"\(([^()]+):\d+\)$", line)
    return bool(m) and (os.path.basename(m.group(1)) in ours_files or "/src/" in m.group(1))
ours, server = [], []
for path in sorted(glob.glob(os.path.join(os.environ["vglogs"], "*.log"))):
    text = open(path, errors="replace").read()
    for err in re.findall(r"VALGRINDERROR-BEGIN\n(.*?)VALGRINDERROR-END", text, re.S):
        frames = [l for l in err.splitlines() if re.search(r"^==\d+==\s+(at|by) 0x", l)]
        (ours if any(ours_frame(f) for f in frames) else server).append((path, err))
print(f"memcheck errors: {len(ours)} with a chronicle frame, {len(server)} in server frames only (not suppressed)")
for label, errs in (("CHRONICLE", ours), ("server", server)):
    for path, err in errs[:20]:
        print(f"--- {label} error in {os.path.basename(path)}")
        print("\n".join(l for l in err.splitlines() if not l.startswith(("   ", "{", "}")))[:4000])
sys.exit(1 if ours else 0)
PY
echo "check-valgrind took $(( $(date +%s) - start )) s (logs: $vglogs)"
exit $rc
