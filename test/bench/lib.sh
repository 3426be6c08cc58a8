# lib.sh: helpers for test/bench/bench_*.sh (sourced by them and by run.sh).
# Every figure is reported next to a baseline measured in the same run:
#   report NAME VALUE BASELINE UNIT TARGET [NOTE]
# UNIT is tps (higher is better) or ms or Ir, instructions (lower is better); the ratio printed is
# VALUE/BASELINE in that unit, and TARGET a comparison on it such as ">=0.75"
# or "<=1.5" (informational: a miss is printed, never raised).

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
