#!/usr/bin/env bash
# make demo: install what is missing, build, install, start a throwaway cluster
# under the project folder, run the examples, print, stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh

test/lib/deps.sh
echo "== building chronicle"
make -s >/dev/null
if [[ $(id -u) -eq 0 ]]; then
    make -s install >/dev/null
else
    echo "(not root: installing with sudo)"
    sudo make -s install >/dev/null
fi
PGBIN=$("$PG_CONFIG" --bindir)

echo "== starting a throwaway PostgreSQL cluster in $(chronicle_workdir)/demo"
stopped() { echo "== cluster stopped and removed"; }
at_exit stopped
cluster_up demo

psql -X -q -c "CREATE EXTENSION chronicle" >/dev/null
echo "chronicle $(psql -X -A -t -c 'SELECT chronicle.version()') installed"

# run_example TITLE FUNCTION FILE: run FILE if FUNCTION exists yet.
run_example() {
    local title=$1 needed=$2 file=$3
    echo
    echo "== $title"
    if [[ $(psql -X -A -t -c "SELECT to_regproc('$needed') IS NOT NULL") != t ]]; then
        echo "(not available yet: $needed is missing from this build)"
        return
    fi
    psql -X -v ON_ERROR_STOP=1 -f "$file"
}

run_example "The bank account, an event-sourced aggregate (docs/reference/replay.md)" \
    chronicle.replay test/demo/bank_account.sql
run_example "The category tree, a nested set on a plain table (docs/reference/tree.md)" \
    chronicle.tree_attach test/demo/category_tree.sql
run_example "A unique username across streams, a conditional append (docs/reference/dcb.md)" \
    chronicle.append_events test/demo/unique_username.sql
