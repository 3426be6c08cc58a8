#!/usr/bin/env bash
# The upgrade chain: a database populated under 0.1.0, with 0.1.0's own
# library, is updated in place with ALTER EXTENSION chronicle UPDATE under
# this checkout's library, as a user does after installing a new package.
# Then:
#   1. its catalog (functions with their definitions and settings, tables,
#      columns, constraints, indexes, triggers, views, types, grants,
#      comments, extension membership) equals a fresh install's, line by line;
#   2. everything a user sees (events, hashes, replays, snapshots,
#      projection rows, checkpoints, parked events, trees) is unchanged;
#   3. it keeps working: appends, projections, polls, tree inserts, verify().
# 0.1.0's sources are read from git history (the commit that released it);
# its install script is kept as released in src/upgrade/chronicle--0.1.0.sql.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh

RELEASE_0_1_0=a11f9b1   # the 0.1.0 release (src/upgrade/README.md)
here=test/upgrade
work=$(chronicle_workdir)/upgrade
scratch_dir "$work"
mkdir -p "$work/old-src"

git cat-file -e "$RELEASE_0_1_0^{commit}" 2>/dev/null ||
    { echo "git history with commit $RELEASE_0_1_0 (0.1.0) is needed"; exit 1; }
git archive "$RELEASE_0_1_0" | tar -x -C "$work/old-src"
make -s -j2 -C "$work/old-src" >/dev/null
private_install "$work/old-tree" "$work/old-src"
old_bin=$PGBIN
private_install "$work/new-tree"
new_bin=$PGBIN

stop_db() { PGBIN=$new_bin cluster_stop upgrade-db; }
at_exit stop_db

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

PGBIN=$old_bin cluster_init upgrade-db
PGBIN=$old_bin cluster_start upgrade-db
psql_q -d postgres -c "CREATE DATABASE upgraded" -c "CREATE DATABASE fresh"
psql_q -d upgraded -f "$here/fill.sql" >/dev/null
psql_q -d upgraded -f "$here/state.sql" >"$work/state-before.txt"
# A 0.1.0 log edited behind the triggers' back: the update must stop, list
# the problem and leave the database at 0.1.0 (hash chain v2 re-chains only
# a log that verifies under 0.1.0's rules).
psql_q -d postgres -c "CREATE DATABASE tampered"
psql_q -d tampered >/dev/null <<'SQL'
CREATE EXTENSION chronicle VERSION '0.1.0';
SELECT chronicle.append('account-9', 'AccountOpened', '{"Name": "Tim", "InitialBalance": 5}');
SELECT chronicle.append('account-9', 'DepositMade', '{"Amount": 1}');
SET session_replication_role = replica;
UPDATE chronicle.events SET data = '{"Amount": 1000}' WHERE stream_id = 'account-9' AND version = 2;
SQL
as_pg "$old_bin/pg_ctl" -D "$(chronicle_workdir)/upgrade-db/data" -m fast -w stop >/dev/null

# The new package: the same data directory under this checkout's binaries.
PGBIN=$new_bin cluster_start upgrade-db
psql_q -d upgraded -c "ALTER EXTENSION chronicle UPDATE"
psql_q -d fresh -c "CREATE EXTENSION chronicle"

psql_q -d upgraded -f "$here/catalog.sql" >"$work/catalog-upgraded.txt"
psql_q -d fresh -f "$here/catalog.sql" >"$work/catalog-fresh.txt"
echo "catalog lines: $(wc -l <"$work/catalog-fresh.txt") (fresh), $(wc -l <"$work/catalog-upgraded.txt") (upgraded)"
check_files catalog "$work/catalog-fresh.txt" "$work/catalog-upgraded.txt"

psql_q -d upgraded -f "$here/state.sql" >"$work/state-after.txt"
echo "state lines: $(wc -l <"$work/state-before.txt")"
check_files state "$work/state-before.txt" "$work/state-after.txt"

psql_q -d upgraded -f "$here/after.sql" >"$work/after.txt"
check_files after "$here/after.expected" "$work/after.txt"

# An event appended under 0.1.0 (re-chained by the update) redacted under
# 0.2.0, then the database dumped and restored with pg_restore -j 4, every
# trigger on: the events (every column), the register and the stream rows
# come back equal, verify() and verify_digest() (a digest taken before the
# dump) find nothing, and the erased value stays gone.
psql_q -d upgraded -At -c "SELECT chronicle.redact('account-1', 1, ARRAY['Name'], 'a 0.1.0 event')" >"$work/redact.txt"
check "redact of a 0.1.0 event" "1" "$(cat "$work/redact.txt")"
digest=$(psql -X -At -d upgraded -c "SELECT chronicle.digest()")
upgraded_state() {
    psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "SELECT e.* FROM chronicle.events e ORDER BY stream_id, version" \
        -c "SELECT r.* FROM chronicle.erasures r ORDER BY stream_id, version" \
        -c "SELECT stream_id, category, version FROM chronicle.streams ORDER BY stream_id"
}
upgraded_state upgraded >"$work/redacted-before.txt"
pg_dump -Fc -d upgraded -f "$work/upgraded.fc"
psql_q -d postgres -c "CREATE DATABASE restored"
if pg_restore -e -j 4 -d restored "$work/upgraded.fc" >"$work/restore.log" 2>&1; then
    pass "pg_restore -j 4 of the upgraded, redacted database"
else
    fail "pg_restore -j 4 of the upgraded, redacted database:"; grep -m5 ERROR "$work/restore.log" || tail -5 "$work/restore.log"
fi
upgraded_state restored >"$work/redacted-after.txt"
check_files "restored events, erasures and streams" "$work/redacted-before.txt" "$work/redacted-after.txt"
check "restored: verify(), verify_digest(), the erased value" "0 0 0" \
    "$(psql -X -At -d restored -c "SELECT (SELECT count(*) FROM chronicle.verify()) || ' ' ||
        (SELECT count(*) FROM chronicle.verify_digest('$digest')) || ' ' ||
        (SELECT count(*) FROM chronicle.events WHERE stream_id = 'account-1' AND data ? 'Name')")"

# The tampered log: ALTER EXTENSION fails with the problem listed, nothing changes.
if psql -X -q -v ON_ERROR_STOP=1 -d tampered -c "ALTER EXTENSION chronicle UPDATE" >"$work/tampered.txt" 2>&1; then
    fail "tampered: the update of a tampered 0.1.0 log succeeded"
else
    psql_q -d tampered -At -c "SELECT 'extversion ' || extversion FROM pg_extension WHERE extname = 'chronicle'" \
        >>"$work/tampered.txt"
    { grep -E '^(ERROR|DETAIL|HINT):' "$work/tampered.txt"; grep '^extversion' "$work/tampered.txt"; } \
        >"$work/tampered-got.txt"
    check_files tampered "$here/tampered.expected" "$work/tampered-got.txt"
fi

checks_done
