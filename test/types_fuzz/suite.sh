#!/usr/bin/env bash
# Random schemas, data and upcaster rules (test/types_fuzz/gen.py, fixed
# seeds): every call must end in success or a documented SQLSTATE (SE003,
# 22023), never XX000 or a crash.  Run by test/run.sh against its cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
# python3 is installed by test/lib/deps.sh: a missing one is a failure, not a skip.
db=types_fuzz
scratch_db "$db"
psql -X -q -d "$db" -c "CREATE EXTENSION chronicle"
for seed in 1 2 3; do
    states=$(python3 test/types_fuzz/gen.py "$seed" | psql -X -q -t -A -F ' ' -v ON_ERROR_STOP=1 -d "$db")
    echo "seed $seed:" $states
    unexpected=$(echo "$states" | awk '$1 != "ok" && $1 != "SE003" && $1 != "22023"')
    if [[ -n $unexpected ]]; then
        echo "unexpected SQLSTATEs: $unexpected" >&2
        exit 1
    fi
done
psql -X -q -t -A -d "$db" -c "SELECT 'backend alive'"
