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
source "$(dirname "$0")/lib.sh"

v1_ref=${BENCH_V1_REF:-089d023}
n=${BENCH_STATEMENTS:-300}
events=${BENCH_DIGEST_EVENTS:-1000000}
streams=$((events / 10))

if command -v valgrind >/dev/null && git cat-file -e "$v1_ref^{commit}" 2>/dev/null; then
    # v1: the server tree with chronicle built from $v1_ref.
    mkdir -p "$tmp/v1-src"
    git archive "$v1_ref" | tar -x -C "$tmp/v1-src"
    make -s -j2 -C "$tmp/v1-src" >/dev/null 2>&1
    saved_pgbin=$PGBIN
    private_install "$tmp/v1-tree" "$tmp/v1-src"
    v1_bin=$PGBIN
    PGBIN=$saved_pgbin
    printf '%s\n' "CREATE EXTENSION chronicle;" \
        "SELECT count(chronicle.append('account-' || i, 'Opened', '{\"owner\": \"x\"}')) FROM generate_series(1, 100) i;" \
        >"$tmp/setup.sql"
    # appends COUNT: COUNT appends of one event to 100 streams, one a line.
    appends() {
        local i
        for ((i = 0; i < $1; i++)); do
            echo "SELECT chronicle.append('account-$((i % 100 + 1))', 'Deposited', '{\"amount\": 10, \"currency\": \"EUR\"}')"
        done
    }
    single_user_db "$PGBIN" "$tmp/data-v2" "$tmp/setup.sql"
    single_user_db "$v1_bin" "$tmp/data-v1" "$tmp/setup.sql"
    v2=$(ir_per_statement "$PGBIN" "$tmp/data-v2" "$n" appends)
    v1=$(ir_per_statement "$v1_bin" "$tmp/data-v1" "$n" appends)
    report "append: instructions per event, chain v2 vs v1" "$v2" "$v1" Ir "<=1.053" \
        "v1 = $v1_ref; single-user backend, $n statements"
else
    echo "   (valgrind or commit $v1_ref missing: the v2 vs v1 instruction count is skipped)"
fi

# 2. A log of $events events in $streams streams, appended by chronicle.
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
