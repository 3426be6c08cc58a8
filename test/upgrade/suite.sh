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
# Names 0.2.0 reserves (docs/design/upgrades.md): a 0.1.0 user's stream
# chronicle-erasures (the update must refuse and change nothing), and a table
# of the extension owner's in schema chronicle named like a new 0.2.0 table
# (PostgreSQL refuses the update; the table stays as it was).
psql_q -d postgres -c "CREATE DATABASE reserved" -c "CREATE DATABASE taken" -c "CREATE DATABASE taken_fn"
psql_q -d reserved >/dev/null <<'SQL'
CREATE EXTENSION chronicle VERSION '0.1.0';
CREATE FUNCTION public.count_events(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_catalog.jsonb_build_object('n', coalesce((state ->> 'n')::int, 0) + 1) $$;
SELECT chronicle.define_reducer('counter', 'public.count_events(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.append('account-5', 'AccountOpened', '{"Name": "Eve", "InitialBalance": 1}');
SELECT chronicle.append('chronicle-erasures', 'ErasureRequested', '{"customer": "c-1"}', '{"by": "support"}',
                        event_id => 'e0000000-0000-4000-8000-000000000001');
SELECT chronicle.append_batch('chronicle-erasures', '[{"type": "ErasureDone", "data": {"customer": "c-1"}}]');
SELECT chronicle.append('chronicle-audit', 'Checked', '{}');
SELECT chronicle.take_snapshot('chronicle-erasures', 'counter');
SQL
reserved_state() {
    psql -X -At -v ON_ERROR_STOP=1 -d reserved -c "SELECT e.* FROM chronicle.events e ORDER BY stream_id, version" \
        -c "SELECT s.* FROM chronicle.streams s ORDER BY stream_id" \
        -c "SELECT stream_id, reducer, version, state FROM chronicle.snapshots ORDER BY stream_id"
}
reserved_state >"$work/reserved-before.txt"
# What the move must keep of the user's events (docs/design/upgrades.md).
reserved_events() {
    psql -X -At -v ON_ERROR_STOP=1 -d reserved \
        -c "SELECT version, event_id, type, type_version, data, metadata FROM chronicle.events
             WHERE stream_id = '$1' ORDER BY version"
}
reserved_events chronicle-erasures >"$work/reserved-events-before.txt"
psql_q -d taken >/dev/null <<'SQL'
CREATE EXTENSION chronicle VERSION '0.1.0';
CREATE TABLE chronicle.digests (note text);
INSERT INTO chronicle.digests VALUES ('the owner''s own table');
SQL
psql_q -d taken_fn >/dev/null <<'SQL'
CREATE EXTENSION chronicle VERSION '0.1.0';
CREATE FUNCTION chronicle.digest() RETURNS jsonb LANGUAGE sql AS $$ SELECT '"the owner''s own function"'::jsonb $$;
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

# Stream chronicle-erasures is redact's alone: on a fresh install (no receipt
# yet; and below on a database whose 0.1.0 stream of that name was moved
# aside), the superuser's append, append_batch and append_events of it are
# refused (42501) and create no stream.
receipts_refused() { # DB
    psql -X -q -At -d "$1" 2>&1 <<'SQL'
DO $$
DECLARE
    q text;
BEGIN
    FOREACH q IN ARRAY ARRAY[
        $q$SELECT chronicle.append('chronicle-erasures', 'EventsRedacted', '{"events": []}')$q$,
        $q$SELECT chronicle.append_batch('chronicle-erasures', '[{"type": "EventsRedacted", "data": {}}]')$q$,
        $q$SELECT * FROM chronicle.append_events('[{"stream_id": "chronicle-erasures", "type": "EventsRedacted", "data": {}}]')$q$]
    LOOP
        BEGIN
            EXECUTE q;
            RAISE NOTICE 'appended';
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%', SQLSTATE;
        END;
    END LOOP;
END
$$;
SELECT count(*) FROM chronicle.streams WHERE stream_id = 'chronicle-erasures';
SQL
}
check "fresh: append, append_batch, append_events to chronicle-erasures; its stream rows" \
    "$(printf 'NOTICE:  42501\nNOTICE:  42501\nNOTICE:  42501\n0')" "$(receipts_refused fresh)"

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

# A 0.1.0 stream named chronicle-erasures: the update refuses (42939), names
# the stream and its events, and changes nothing.
update_refused() { # DB EXPECTED_FILE: ALTER EXTENSION fails with exactly these lines
    local db=$1 out="$work/$1-update.txt"
    if psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" -c "ALTER EXTENSION chronicle UPDATE" >"$out" 2>&1; then
        fail "$db: the update succeeded"
        return
    fi
    psql_q -d "$db" -At -c "SELECT 'extversion ' || extversion FROM pg_extension WHERE extname = 'chronicle'" \
        -c "SELECT 'chronicle.erasures ' || coalesce(to_regclass('chronicle.erasures')::text, 'absent')" >>"$out"
    { grep -E '^(ERROR|DETAIL|HINT):' "$out"; grep -E '^(extversion|chronicle.erasures) ' "$out"; } >"$work/$db-got.txt"
    check_files "$db: the update refused, the database at 0.1.0" "$2" "$work/$db-got.txt"
}
update_refused reserved "$here/reserved.expected"
reserved_state >"$work/reserved-after.txt"
check_files "reserved: events, stream rows and snapshots unchanged by the refused update" \
    "$work/reserved-before.txt" "$work/reserved-after.txt"

# The way out docs/design/upgrades.md gives, run as written there: the stream
# moved aside under 0.1.0, the update, the events appended again under
# another name.  They keep their ids, types, data and metadata; the log
# verifies; redact's first receipt starts stream chronicle-erasures at 1.
doc_block() { # NAME: the ```sql norun NAME block of docs/design/upgrades.md
    awk -v name="$1" '$0 == "```sql norun " name {on = 1; next} on && $0 == "```" {exit} on' docs/design/upgrades.md
}
for step in move-reserved-1 move-reserved-2; do
    [[ -n $(doc_block "$step") ]] || fail "docs/design/upgrades.md has no block $step"
    if doc_block "$step" | psql -X -q -v ON_ERROR_STOP=1 -d reserved >"$work/reserved-$step.txt" 2>&1; then
        pass "reserved: docs/design/upgrades.md's $step"
    else
        fail "reserved: docs/design/upgrades.md's $step:"; cat "$work/reserved-$step.txt"
    fi
done
reserved_events legacy-erasures >"$work/reserved-events-after.txt"
check_files "reserved: the moved events (versions, ids, types, data, metadata)" \
    "$work/reserved-events-before.txt" "$work/reserved-events-after.txt"
check "reserved: version, verify(), rows left in chronicle-erasures, snapshots, events of account-5 and chronicle-audit" \
    "0.2.0 0 0 0 1 1" \
    "$(psql -X -At -d reserved -c "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'chronicle') || ' ' ||
        (SELECT count(*) FROM chronicle.verify()) || ' ' ||
        ((SELECT count(*) FROM chronicle.events WHERE stream_id = 'chronicle-erasures') +
         (SELECT count(*) FROM chronicle.streams WHERE stream_id = 'chronicle-erasures')) || ' ' ||
        (SELECT count(*) FROM chronicle.snapshots WHERE stream_id = 'chronicle-erasures') || ' ' ||
        (SELECT count(*) FROM chronicle.events WHERE stream_id = 'account-5') || ' ' ||
        (SELECT count(*) FROM chronicle.events WHERE stream_id = 'chronicle-audit')")"
check "reserved: append, append_batch, append_events to chronicle-erasures; its stream rows" \
    "$(printf 'NOTICE:  42501\nNOTICE:  42501\nNOTICE:  42501\n0')" "$(receipts_refused reserved)"
check "reserved: redact; then the receipts stream and verify()" "$(printf '1\n1 EventsRedacted\n0')" \
    "$(psql -X -At -d reserved -c "SELECT chronicle.redact('account-5', 1, ARRAY['Name'], 'moved aside first')" \
        -c "SELECT string_agg(version || ' ' || type, ',') FROM chronicle.events WHERE stream_id = 'chronicle-erasures'" \
        -c "SELECT count(*) FROM chronicle.verify()" 2>&1)"

# A table of the owner's named like 0.2.0's chronicle.digests: PostgreSQL
# refuses to create it, the update rolls back, the table keeps its row.
update_refused taken "$here/taken.expected"
check "taken: the owner's chronicle.digests" "the owner's own table" \
    "$(psql -X -At -d taken -c "SELECT note FROM chronicle.digests")"

# A function of the owner's with the signature and result of 0.2.0's
# chronicle.digest(): PostgreSQL refuses to replace an object the extension
# does not own (since 15.0 and the 2022 minor releases), and the function stays.
update_refused taken_fn "$here/taken_fn.expected"
check "taken_fn: the owner's chronicle.digest()" "the owner's own function" \
    "$(psql -X -At -d taken_fn -c "SELECT chronicle.digest() #>> '{}'")"

checks_done
