# lib.sh: what every test/bench/bench_*.sh shares (sourced by them and by run.sh).
# A bench script states what it measures and its baseline; run.sh runs each in
# a new database "bench" (PGDATABASE) where chronicle is created, on one
# throwaway cluster.  Sourcing this file moves to the project's root, sources
# test/lib/cluster.sh (at_exit, as_pg, ...), and sets
#   seconds   the length of one pgbench run: BENCH_SECONDS, default 5
#   tmp       a scratch directory the cluster's owner may write to, removed at exit
#
# Every figure is reported next to a baseline measured in the same run:
#   report NAME VALUE BASELINE UNIT TARGET [NOTE]
# UNIT is tps (higher is better) or ms or Ir, instructions (lower is better); the ratio printed is
# VALUE/BASELINE in that unit, and TARGET a comparison on it such as ">=0.75"
# or "<=1.5" (informational: a miss is printed, never raised).
#
# Measuring (each figure taken the same way as its baseline, in turns):
#   tps SCRIPT CLIENTS SECONDS      pgbench throughput of one script
#   tps_pair A B [CLIENTS]          best of three interleaved runs of each: "A B"
#   median_ms SQL [REPEATS]         server-side median in one backend
#   median_pair_ms A B [REPEATS]    both medians, executions alternating in one backend
#   ms_pair A B                     lowest of three interleaved median_ms (25 each): "A B"
#   settle TABLE...                 CHECKPOINT, VACUUM ANALYZE: a steady state to measure
#   single_user_db BIN DATA SETUP   a data directory for single-user backends, set up
#   ir_per_statement BIN DATA N GEN...   callgrind instructions per statement
#   ir_of BIN DATA GEN...           callgrind instructions of one backend's run

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source test/lib/cluster.sh
seconds=${BENCH_SECONDS:-5}
tmp=$(mktemp -d)
chmod a+rwx "$tmp"
at_exit rm -rf "$tmp"

# sql FILE-or-TEXT: run quietly against the bench database, stop on error.
sql() {
    psql -X -q -v ON_ERROR_STOP=1 "$@"
}

# tps SCRIPT CLIENTS SECONDS [pgbench options]: pgbench throughput, excluding
# connection time, with SCRIPT as the only transaction.
tps() {
    local script=$1 clients=$2 seconds=$3
    shift 3
    pgbench -n -f "$script" -c "$clients" -j "$clients" -T "$seconds" "$@" 2>&1 |
        sed -n 's/^tps = \([0-9]*\)\.[0-9]* (without initial connection time)/\1/p'
}

# median_ms SQL REPEATS: median server-side execution time of SQL, in ms,
# measured in one backend so client round trips do not count.
median_ms() {
    local query=$1 repeats=${2:-15}
    sql -t -A -v q="$query" -v n="$repeats" <<'SQL'
CREATE OR REPLACE FUNCTION pg_temp.median_ms(q text, n int) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times numeric[] := '{}';
BEGIN
    EXECUTE q;  -- warm caches and plans
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        EXECUTE q;
        times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
    END LOOP;
    RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END $$;
SELECT round(pg_temp.median_ms(:'q', :n), 4);
SQL
}

# median_pair_ms SQL_A SQL_B REPEATS: the medians of A and B, in ms, as
# "A B", from REPEATS executions of each alternating in one backend: a
# shared machine's speed drifts over seconds, and taking turns gives both
# the same drift, so that their ratio is the queries' and not the moment's.
median_pair_ms() {
    local a=$1 b=$2 repeats=${3:-15}
    sql -t -A -F ' ' -v a="$a" -v b="$b" -v n="$repeats" <<'SQL'
CREATE OR REPLACE FUNCTION pg_temp.median_pair_ms(a text, b text, n int, OUT ma numeric, OUT mb numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    ta numeric[] := '{}';
    tb numeric[] := '{}';
BEGIN
    EXECUTE a;  -- warm caches and plans
    EXECUTE b;
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        EXECUTE a;
        ta := ta || (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
        t0 := clock_timestamp();
        EXECUTE b;
        tb := tb || (extract(epoch FROM clock_timestamp() - t0) * 1000)::numeric;
    END LOOP;
    ma := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ta) x)::numeric, 4);
    mb := round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(tb) x)::numeric, 4);
END $$;
SELECT * FROM pg_temp.median_pair_ms(:'a', :'b', :n);
SQL
}

# tps_pair A B [CLIENTS]: pgbench scripts A and B (2 clients unless given),
# $seconds each, in turns three times; prints the best throughput of each,
# "A B", which damps the noise of a shared machine.
tps_pair() {
    local a=() b=() i clients=${3:-2}
    for i in 1 2 3; do
        a+=("$(tps "$1" "$clients" "$seconds")")
        b+=("$(tps "$2" "$clients" "$seconds")")
    done
    echo "$(printf '%s\n' "${a[@]}" | sort -g | tail -1) $(printf '%s\n' "${b[@]}" | sort -g | tail -1)"
}

# ms_pair A B: the server-side medians of queries A and B (median_ms, 25
# executions, each median in its own session), in turns three times; prints
# the lowest median of each, "A B".
ms_pair() {
    local a=() b=() i
    for i in 1 2 3; do
        a+=("$(median_ms "$1" 25)")
        b+=("$(median_ms "$2" 25)")
    done
    echo "$(printf '%s\n' "${a[@]}" | sort -g | head -1) $(printf '%s\n' "${b[@]}" | sort -g | head -1)"
}

# settle TABLE...: CHECKPOINT, then VACUUM ANALYZE each table.  The bench
# cluster commits asynchronously, and until a commit record is flushed
# VACUUM may neither set the hint bits of that transaction's rows nor mark
# their pages all-visible: a VACUUM right after a load left the tables in a
# state that depended on the WAL writer's timing.  CHECKPOINT flushes the
# WAL first, so every run measures the same steady state.
settle() {
    local t
    sql -c CHECKPOINT
    for t in "$@"; do
        sql -c "VACUUM ANALYZE $t"
    done
}

# Instructions, counted by valgrind's callgrind: the one measure a shared,
# noisy machine cannot disturb.  A single-user backend (no client, no network,
# no other process) runs the statements.
# single_user_db BIN DATA SETUP: a new data directory DATA (initdb of BIN's
# server) with a database bench in which the statements of file SETUP ran
# (single-user mode with -j: a statement may span lines, a blank line after
# its semicolon ends it).
single_user_db() {
    local bin=$1 data=$2 setup=$3
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync --encoding=UTF8 --locale=C.UTF-8 \
        >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; return 1; }
    printf 'CREATE DATABASE bench\n' | as_pg "$bin/postgres" --single -D "$data" postgres >/dev/null 2>&1
    chmod a+r "$setup"
    as_pg "$bin/postgres" --single -D "$data" -c fsync=off -c synchronous_commit=off -j bench <"$setup" >"$tmp/setup.out" 2>&1
}

# ir_of BIN DATA GENERATOR [ARGS...]: the instructions of a single-user backend
# of BIN's server on DATA, database bench, that runs the statements (one a
# line) which GENERATOR ARGS prints.
ir_of() {
    local bin=$1 data=$2
    shift 2
    "$@" >"$tmp/in.txt"
    chmod a+r "$tmp/in.txt"
    as_pg valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        "$bin/postgres" --single -D "$data" -c fsync=off -c synchronous_commit=off bench \
        <"$tmp/in.txt" >/dev/null 2>"$tmp/valgrind.err"
    sed -n 's/^totals: *\([0-9]*\).*/\1/p;s/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.out" | head -1
}

# ir_per_statement BIN DATA N GENERATOR [ARGS...]: instructions per statement,
# where GENERATOR ARGS COUNT prints COUNT statements: the count of a run of 20
# is subtracted from that of a run of N + 20, so that start-up and shut-down
# cancel out and what remains is the cost of N statements.
ir_per_statement() {
    local bin=$1 data=$2 n=$3 small big
    shift 3
    small=$(ir_of "$bin" "$data" "$@" 20)
    big=$(ir_of "$bin" "$data" "$@" $((n + 20)))
    echo $(((big - small) / n))
}

report() {
    local name=$1 value=$2 baseline=$3 unit=$4 target=$5 note=${6:-}
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$value" "$baseline" "$unit" "$target" "$note" >>"$BENCH_RESULTS"
    printf '   %-48s %12s %s vs baseline %12s %s\n' "$name" "$value" "$unit" "$baseline" "$unit"
}

bench_table() {
    echo "| benchmark | chronicle | baseline | ratio | target | |"
    echo "|---|---:|---:|---:|---|---|"
    awk -F'\t' '{
        ratio = ($3 > 0) ? $2 / $3 : 0
        op = substr($5, 1, 2); limit = substr($5, 3) + 0
        met = (op == ">=") ? (ratio >= limit) : (op == "<=") ? (ratio <= limit) : 1
        printf "| %s | %s %s | %s %s | %.2fx | %s | %s%s |\n", $1, $2, $4, $3, $4, ratio, $5,
               ($5 == "" ? "" : (met ? "met" : "missed")), ($6 == "" ? "" : " (" $6 ")")
    }' "$1"
}
