#!/usr/bin/env bash
# bench_instructions: append's cost counted in CPU instructions (valgrind's
# callgrind, lib.sh), the one measure that a shared, noisy machine cannot
# disturb.  A single-user backend runs N statements of each kind (BENCH_STATEMENTS,
# default 300), less a run of 20:
#   append of one event vs the raw INSERT of bench_append (same columns and
#   indexes): the pgbench target >= 0.75x in throughput is <= 1.33x here;
#   a bulk load of 20,000 nodes in one INSERT ... SELECT into an attached
#   table vs the same INSERT into a plain one (bench_tree's target <= 4x),
#   chronicle's library loaded first in both.
# Skipped (with a note) when valgrind is missing; run.sh installs it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null; then
    echo "   (valgrind is not installed: instruction counts skipped)"
    exit 0
fi
n=${BENCH_STATEMENTS:-300}

{
    echo "CREATE EXTENSION chronicle;"
    cat test/bench/raw_events.sql
    cat <<'SQL'
SELECT count(chronicle.append('account-' || i, 'Opened', '{"owner": "x"}')) FROM generate_series(1, 100) i;
CREATE TABLE load_ns (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('load_ns');
CREATE TABLE load_plain (id int PRIMARY KEY, parent_id int, name text);
SQL
} >"$tmp/setup.sql"
data="$tmp/data"
single_user_db "$PGBIN" "$data" "$tmp/setup.sql"

# statements KIND COUNT: COUNT statements of KIND, one a line; a load is one
# statement of COUNT rows (after emptying the table).
statements() {
    local i
    case $1 in
    load_ns | load_plain)
        # As in any backend that has used chronicle: its planner hook (whole
        # new trees stored already numbered) exists once the library is
        # loaded, and a fresh backend has not loaded it yet.
        echo "LOAD 'chronicle'"
        echo "TRUNCATE $1"
        echo "INSERT INTO $1 SELECT g, CASE WHEN g > 1 THEN (g + 6) / 8 END, 'n' || g FROM generate_series(1, $2) g"
        return ;;
    esac
    for ((i = 0; i < $2; i++)); do
        case $1 in
        append) echo "SELECT chronicle.append('account-$((i % 100 + 1))', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}')" ;;
        raw) echo "INSERT INTO raw_events VALUES ('account-$((i % 100 + 1))', nextval('raw_version'), nextval('raw_position'), gen_random_uuid(), 'Deposited', 1, '{\"amount\": 10, \"currency\": \"EUR\"}', '{}', now(), pg_current_xact_id(), '\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')" ;;
        esac
    done
}
append=$(ir_per_statement "$PGBIN" "$data" "$n" statements append)
raw=$(ir_per_statement "$PGBIN" "$data" "$n" statements raw)
report "append: instructions per event (callgrind)" "$append" "$raw" Ir "<=1.33" \
    "raw INSERT; single-user backend, $n statements"

# One statement of 20,000 rows, less one of a single row.
load() {
    echo $(($(ir_of "$PGBIN" "$data" statements "$1" 20000) - $(ir_of "$PGBIN" "$data" statements "$1" 1)))
}
attached=$(load load_ns)
plain=$(load load_plain)
report "bulk load 20k: instructions, attached vs plain" "$attached" "$plain" Ir "<=4" \
    "one INSERT ... SELECT; single-user backend"
