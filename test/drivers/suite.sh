#!/usr/bin/env bash
# Real client drivers (issue 12): the same small application flow in Python
# with Debian's python3-psycopg (psycopg 3) and in Node.js with node-postgres
# (`pg` from npm, pinned by node/package-lock.json): an append with an expected
# version retried on SE001 caught by SQLSTATE (the conflict made by a second
# connection), a batch append, a replay, LISTEN chronicle_events with the
# notification after the other connection's commit, subscribe/poll/ack, and a
# tree move refused with TR001 caught by SQLSTATE.  Run by test/run.sh
# against its cluster; test/lib/deps.sh installs python3-psycopg, nodejs, npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
db=drivers
scratch_db "$db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION chronicle;
SELECT chronicle.define_reducer('drv_order', '{
  "ItemAdded": {"add": {"total": "$.price"}, "push": {"items": "$.sku"}}
}');
SQL
export PGDATABASE=$db

# node-postgres as the lock file pins it (npm ci checks the integrity hashes).
if [[ ! -d test/drivers/node/node_modules ]]; then
    (cd test/drivers/node && npm ci --no-audit --no-fund --loglevel=error)
fi

rc=0
/usr/bin/python3 test/drivers/flow.py || rc=1 # Debian's python3, where python3-psycopg is
node test/drivers/node/flow.js || rc=1
exit $rc
