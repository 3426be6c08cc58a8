#!/usr/bin/env bash
# pg_upgrade test (run by `make test`): a cluster holding a populated chronicle
# database passes `pg_upgrade --check`, is upgraded for real (15 to 15: a new
# cluster, the same binaries, copy mode), and on the new cluster everything is
# back and keeps working:
#   - test/restore/checks.sql prints exactly what it printed before (counts and
#     content digests of every table chronicle keeps, replays, read_all,
#     verify() and tree_validate empty);
#   - read_all after a cursor taken before the upgrade returns the same events;
#   - test/restore/continue.sql prints test/restore/continue.expected
#     (appends with expected versions, batches, a new stream, the projection,
#     poll after the checkpoint, tree insert/move/INSERT, verify);
#   - read_all from the old cursor goes on to the new events.
set -uo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/lib/checks.sh

install_if_needed || exit 1
work=$(chronicle_workdir)
old=pgupgrade_old
new=pgupgrade_new
out="$work/pgupgrade-out"
scratch_dir "$out"

# app NAME [psql arguments]: psql against database app of cluster NAME.
app() {
    psql_on "$1" app -q -v ON_ERROR_STOP=1 "${@:2}"
}

cluster_up "$old" || exit 1
at_exit cluster_stop "$new"
psql_on "$old" postgres -q -c "CREATE DATABASE app" || exit 1
app "$old" -f test/restore/populate.sql >"$out/populate.log" 2>&1 || { cat "$out/populate.log"; exit 1; }
app "$old" -f test/restore/checks.sql >"$out/before.txt" 2>&1 || { cat "$out/before.txt"; exit 1; }
cat "$out/before.txt"
grep -qx 'events|45|.*' "$out/before.txt" && grep -qx 'verify_problems|0|' "$out/before.txt" ||
    fail "the old cluster is not populated as populate.sql means"

# pg_upgrade keeps no OIDs but those of regclass, regrole and regtype values:
# no other reg* column in any table chronicle creates.
reg_columns=$(app "$old" -At -c "
    SELECT string_agg(a.attrelid::regclass || '.' || a.attname || ' ' || a.atttypid::regtype, ', ')
    FROM pg_depend d
    JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'chronicle'
    JOIN pg_attribute a ON a.attrelid = d.objid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
      AND a.atttypid::regtype::text LIKE 'reg%'
      AND a.atttypid NOT IN ('regclass'::regtype, 'regrole'::regtype, 'regtype'::regtype)")
[[ -z $reg_columns ]] && pass "no reg* column but regclass, regrole and regtype in chronicle's tables" ||
    fail "reg* columns pg_upgrade cannot keep: $reg_columns"

# A read_all cursor taken before the upgrade, and what follows it.
cursor=$(app "$old" -At -c "SELECT tx_id || ' ' || global_position FROM chronicle.read_all(max_count => 20)
                                ORDER BY tx_id DESC, global_position DESC LIMIT 1")
read -r cursor_tx cursor_pos <<<"$cursor"
[[ -n $cursor_tx && -n $cursor_pos ]] || fail "no read_all cursor"
after_cursor="SELECT count(*), md5(string_agg(a::text, ';' ORDER BY tx_id, global_position))
               FROM chronicle.read_all('$cursor_tx', $cursor_pos, 100000) a"
app "$old" -At -c "$after_cursor" >"$out/cursor_before.txt"
grep -q '^25|' "$out/cursor_before.txt" && pass "25 events after the cursor before the upgrade" ||
    fail "read_all after the cursor before the upgrade: $(cat "$out/cursor_before.txt")"

as_pg "$PGBIN/pg_ctl" -D "$work/$old/data" -m fast -w stop >/dev/null || exit 1
cluster_init "$new" || exit 1

# pg_upgrade writes its logs into the current directory: one the postgres user owns.
upgrade() {
    (cd "$out" && as_pg "$PGBIN/pg_upgrade" -b "$PGBIN" -B "$PGBIN" \
        -d "$work/$old/data" -D "$work/$new/data" -s "$out" -U postgres "$@")
}
if upgrade --check >"$out/check.log" 2>&1; then
    pass "pg_upgrade --check"
else
    fail "pg_upgrade --check:"
    cat "$out/check.log"
    find "$work/$new/data" "$out" -path '*pg_upgrade_output.d*' -name '*.txt' -exec sh -c 'echo "== $1"; cat "$1"' _ {} \;
    checks_done
fi
if upgrade >"$out/upgrade.log" 2>&1; then
    pass "pg_upgrade (copy mode)"
else
    fail "pg_upgrade:"
    tail -30 "$out/upgrade.log"
    checks_done
fi

cluster_start "$new" || exit 1
app "$new" -f test/restore/checks.sql >"$out/after.txt" 2>&1
check_files "every table, replay and read_all equal the old cluster's; verify and tree_validate empty" \
    "$out/before.txt" "$out/after.txt"
app "$new" -At -c "$after_cursor" >"$out/cursor_after.txt" 2>&1
check_files "read_all after the old cursor returns the same events" "$out/cursor_before.txt" "$out/cursor_after.txt"
app "$new" -f test/restore/continue.sql >"$out/continue.txt" 2>&1
check_files "appends, projection, poll and tree writes continue; verify empty" \
    test/restore/continue.expected "$out/continue.txt"
# The old cursor now also reaches the four events appended after the upgrade.
n=$(app "$new" -At -c "SELECT count(*) FROM chronicle.read_all('$cursor_tx', $cursor_pos, 100000)")
check "read_all from the old cursor goes on to the new events" 29 "$n"

checks_done
