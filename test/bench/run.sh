#!/usr/bin/env bash
# make bench: each test/bench/bench_*.sh against one throwaway cluster, then a
# table of figures as ratios against baselines measured in the same run.
# Benchmarks never fail the build: a missed target is reported, not raised.
#   BENCH=name make bench     run only test/bench/bench_name.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/bench/lib.sh

EXTRA_PACKAGES=valgrind test/lib/deps.sh || exit 1
make -s >/dev/null || { echo "build failed" >&2; exit 1; }
work=$(chronicle_workdir)
private_install "$work/install" || exit 1
export PGBIN
cluster_init bench "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" \
    "synchronous_commit = off" "autovacuum = off" || exit 1
cluster_start bench || exit 1
trap 'cluster_stop bench' EXIT

BENCH_RESULTS="$work/bench-results.tsv"
export BENCH_RESULTS
: >"$BENCH_RESULTS"

for script in test/bench/bench_*.sh; do
    name=${script#test/bench/bench_}
    name=${name%.sh}
    [[ -n ${BENCH:-} && $BENCH != "$name" ]] && continue
    echo "== $name"
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
    PGDATABASE=bench bash "$script" || echo "   (benchmark $name stopped with an error; its figures are missing)"
done

echo
bench_table "$BENCH_RESULTS"
