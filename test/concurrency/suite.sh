#!/usr/bin/env bash
# Pairwise concurrency suite (issue 17): every pair of chronicle's writing
# operations, run by three sessions against the same objects in seeded random
# interleavings (driver.py says how and what fails).  Fails on any deadlock
# (40P01), internal error (XX000), lost or duplicated event, invalid tree, or
# projection, snapshot or replay that differs from a full fold.
# Runs against the cluster test/run.sh started (PGHOST etc. are exported).
#   CONCURRENCY_SEED=n  CONCURRENCY_ROUNDS=n  CONCURRENCY_ONLY=op,op   (see driver.py)
set -euo pipefail
cd "$(dirname "$0")"
source ../lib/cluster.sh
export CONCURRENCY_DB=chronicle_concurrency
scratch_db "$CONCURRENCY_DB"
python3 -c 'import driver; print(driver.SETUP)' | psql -X -q -v ON_ERROR_STOP=1 -d "$CONCURRENCY_DB" >/dev/null
python3 driver.py
