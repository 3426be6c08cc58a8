#!/usr/bin/env bash
# make bench: each test/bench/bench_*.sh against one throwaway cluster, each
# in a new database "bench" where chronicle is created, then a table of
# figures as ratios against baselines measured in the same run (lib.sh).
# Benchmarks never fail the build: a missed target is reported, not raised.
#   BENCH=name make bench     run only test/bench/bench_name.sh
set -uo pipefail
source "$(dirname "$0")/lib.sh"

EXTRA_PACKAGES=valgrind test/lib/deps.sh || exit 1
make -s >/dev/null || { echo "build failed" >&2; exit 1; }
private_install "$(chronicle_workdir)/install" || exit 1
export PGBIN
cluster_up bench "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" \
    "synchronous_commit = off" "autovacuum = off" || exit 1

BENCH_RESULTS="$(chronicle_workdir)/bench-results.tsv"
export BENCH_RESULTS
: >"$BENCH_RESULTS"

for script in test/bench/bench_*.sh; do
    name=${script#test/bench/bench_}
    name=${name%.sh}
    [[ -n ${BENCH:-} && $BENCH != "$name" ]] && continue
    echo "== $name"
    drop_db bench
    psql -X -q -d postgres -c "CREATE DATABASE bench" >/dev/null &&
        psql -X -q -d bench -c "CREATE EXTENSION chronicle" >/dev/null &&
        PGDATABASE=bench bash "$script" || echo "   (benchmark $name stopped with an error; its figures are missing)"
done

echo
bench_table "$BENCH_RESULTS"
