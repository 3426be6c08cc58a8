#!/usr/bin/env bash
# bench_erasure: what hash chain v2 and ledger digests cost (issue 14).
#   1. append of one event under chain v2 vs chain v1, in CPU instructions
#      (callgrind, single-user backend, as bench_instructions): the same
#      server binaries with this checkout's chronicle and with the one built
#      from BENCH_V1_REF (default: the dcb branch as merged into this one,
#      089d023: tags, DCB lock keys and the SPI door, chain v1).  Target: v2 >= 0.95x v1's throughput, i.e.
#      <= 1.053x its instructions.
#   2. digest() and verify_digest() over BENCH_DIGEST_EVENTS events (default
#      1,000,000) in a tenth as many streams, in seconds, next to verify()
#      over the same log (its baseline: verify_digest recomputes every chain
#      as verify does).
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
source test/bench/lib.sh

v1_ref=${BENCH_V1_REF:-089d023}
n=${BENCH_STATEMENTS:-300}
events=${BENCH_DIGEST_EVENTS:-1000000}
streams=$((events / 10))
work=$(chronicle_workdir)/bench-erasure
rm -rf "$work"
mkdir -p "$work/v1-src"
[[ $(id -u) -eq 0 ]] && chown postgres "$work"

if command -v valgrind >/dev/null && git cat-file -e "$v1_ref^{commit}" 2>/dev/null; then
    git archive "$v1_ref" | tar -x -C "$work/v1-src"
    make -s -j2 -C "$work/v1-src" >/dev/null 2>&1
    saved_pgbin=$PGBIN
    private_install "$work/v1-tree" "$work/v1-src"
    v1_bin=$PGBIN
    PGBIN=$saved_pgbin
    # per_event BIN: instructions per append with that server tree's chronicle.
    per_event() {
        local bin=$1 data="$work/data-$2" i
        as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync >/dev/null 2>&1
        printf 'CREATE DATABASE bench\n' | as_pg "$bin/postgres" --single -D "$data" postgres >/dev/null 2>&1
        printf '%s\n' "CREATE EXTENSION chronicle" \
            "SELECT count(chronicle.append('account-' || i, 'Opened', '{\"owner\": \"x\"}')) FROM generate_series(1, 100) i" \
            >"$work/setup.sql"
        chmod a+r "$work/setup.sql"
        as_pg "$bin/postgres" --single -D "$data" bench <"$work/setup.sql" >/dev/null 2>&1
        run() {
            for ((i = 0; i < $1; i++)); do
                echo "SELECT chronicle.append('account-$((i % 100 + 1))', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}')"
            done >"$work/in.txt"
            chmod a+r "$work/in.txt"
            as_pg valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
                "$bin/postgres" --single -D "$data" -c fsync=off -c synchronous_commit=off bench \
                <"$work/in.txt" >/dev/null 2>"$work/valgrind.err"
            sed -n 's/^totals: *\([0-9]*\).*/\1/p;s/^summary: *\([0-9]*\).*/\1/p' "$work/cg.out" | head -1
        }
        local small big
        small=$(run 20)
        big=$(run $((n + 20)))
        echo $(((big - small) / n))
    }
    chmod a+rwx "$work"
    v2=$(per_event "$PGBIN" v2)
    v1=$(per_event "$v1_bin" v1)
    report "append: instructions per event, chain v2 vs v1" "$v2" "$v1" Ir "<=1.053" \
        "v1 = $v1_ref; single-user backend, $n statements"
else
    echo "   (valgrind or commit $v1_ref missing: the v2 vs v1 instruction count is skipped)"
fi

# 2. A log of $events events in $streams streams, appended by chronicle.
sql -c "CREATE EXTENSION chronicle"
sql -c "SELECT count(chronicle.append_batch('s-' || i, (SELECT jsonb_agg(jsonb_build_object(
            'type', 'Deposited', 'data', jsonb_build_object('amount', j, 'note', 'payment ' || j)))
          FROM generate_series(1, 10) j))) FROM generate_series(1, $streams) i" >/dev/null
sql -c "VACUUM ANALYZE chronicle.events" >/dev/null
loaded=$(sql -t -A -c "SELECT count(*) || ' events in ' || count(DISTINCT stream_id) || ' streams' FROM chronicle.events")
echo "   loaded: $loaded"
seconds() { # seconds SQL: wall time of one execution, in seconds
    sql -t -A -v q="$1" <<'SQL'
CREATE OR REPLACE FUNCTION pg_temp.secs(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN EXECUTE q; RETURN round(extract(epoch FROM clock_timestamp() - t0)::numeric, 2); END $$;
SELECT pg_temp.secs(:'q');
SQL
}
sql -c "SELECT chronicle.digest()" >/dev/null   # warm the cache
digest_s=$(seconds "SELECT chronicle.digest()")
d=$(sql -t -A -c "SELECT chronicle.digest()")
verify_digest_s=$(seconds "SELECT count(*) FROM chronicle.verify_digest('$d')")
verify_s=$(seconds "SELECT count(*) FROM chronicle.verify()")
report "digest(): seconds, $loaded" "$digest_s" "$verify_s" s "" \
    "baseline: verify() over the same log"
report "verify_digest(): seconds, same log" "$verify_digest_s" "$verify_s" s "<=1.5" \
    "baseline: verify() over the same log"
