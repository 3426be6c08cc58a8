#!/usr/bin/env bash
# Replay and fold (docs/reference/replay.md) against plain SQL over the same rows:
#   1. replay of a 100,000-event stream with a one-rule reducer
#      vs SELECT sum((data->>'x')::numeric) over that stream     (target <= 1.4x)
#   2. the same replay vs a straightforward PL/pgSQL loop folding the events
#      into jsonb                                                 (target: 10x faster, <= 0.1x)
#   3. fold over 10,000 streams x 10 events, GROUP BY stream_id
#      vs the same GROUP BY with sum(... ORDER BY version), and
#      vs the same GROUP BY with a plain sum()                    (target <= 1.5x)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Events are loaded with append_batch (1,000 per call) when the events core
# is installed; otherwise the owner inserts the rows directly.
sql <<'SQL'
CREATE FUNCTION pg_temp.load(stream text, n int, per_call int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    done int := 0;
BEGIN
    IF to_regprocedure('chronicle.append_batch(text,jsonb,bigint)') IS NOT NULL THEN
        WHILE done < n LOOP
            PERFORM chronicle.append_batch(stream, (
                SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'data', jsonb_build_object('x', (i % 100) + 0.25)))
                FROM generate_series(done + 1, least(done + per_call, n)) i));
            done := done + per_call;
        END LOOP;
    ELSE
        INSERT INTO chronicle.streams VALUES (stream, split_part(stream, '-', 1), n, now(), now());
        INSERT INTO chronicle.events
        SELECT stream, i, nextval('chronicle.global_position_seq'), gen_random_uuid(), 'Tick', 1,
               jsonb_build_object('x', (i % 100) + 0.25), '{}', now(), pg_current_xact_id(), '\x'
        FROM generate_series(1, n) i;
    END IF;
END $$;
SELECT pg_temp.load('long-1', 100000, 1000);
SELECT pg_temp.load('group-' || g, 10, 10) FROM generate_series(1, 10000) g;
SQL
settle chronicle.events
sql <<'SQL'
SELECT chronicle.define_reducer('bench_sum', '{"Tick": {"add": {"total": "$.x"}}}');

CREATE FUNCTION plpgsql_replay(sid text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    state jsonb := '{}';
    e record;
BEGIN
    FOR e IN SELECT type, data FROM chronicle.events WHERE stream_id = sid ORDER BY version LOOP
        IF e.type = 'Tick' THEN
            state := jsonb_set(state, '{total}',
                               to_jsonb(coalesce((state->>'total')::numeric, 0) + (e.data->>'x')::numeric));
        END IF;
    END LOOP;
    RETURN state;
END $$;
SQL

# The three must agree before their times mean anything.
sql -t -A <<'SQL'
SELECT CASE WHEN (chronicle.replay('long-1', 'bench_sum')->>'total')::numeric
              = (SELECT sum((data->>'x')::numeric) FROM chronicle.events WHERE stream_id = 'long-1')
             AND chronicle.replay('long-1', 'bench_sum') = plpgsql_replay('long-1')
       THEN 'results agree' ELSE 'RESULTS DIFFER' END;
SQL

# Each comparison takes turns with its baseline in one backend (lib.sh).
read -r replay sum < <(median_pair_ms "SELECT chronicle.replay('long-1', 'bench_sum')" \
    "SELECT sum((data->>'x')::numeric) FROM chronicle.events WHERE stream_id = 'long-1'" 9)
# The same sum over the same rows read the way replay reads them (the index,
# in version order), whatever plan the planner picks for the query above.
read -r replay2 sum_ordered < <(median_pair_ms "SELECT chronicle.replay('long-1', 'bench_sum')" \
    "SELECT sum((data->>'x')::numeric) FROM (SELECT data FROM chronicle.events WHERE stream_id = 'long-1' ORDER BY version) s" 9)
read -r replay3 plpgsql < <(median_pair_ms "SELECT chronicle.replay('long-1', 'bench_sum')" \
    "SELECT plpgsql_replay('long-1')" 7)
# The floor: only reading the rows replay reads, in the same order.
read -r replay4 scan < <(median_pair_ms "SELECT chronicle.replay('long-1', 'bench_sum')" \
    "SELECT count(s.data) FROM (SELECT * FROM chronicle.events WHERE stream_id = 'long-1' ORDER BY version) s" 9)
report "replay 100k events vs SQL sum()" "$replay" "$sum" ms "<=1.4"
report "replay 100k events vs SQL sum() in version order" "$replay2" "$sum_ordered" ms "<=1.4"
report "replay 100k events vs PL/pgSQL jsonb loop" "$replay3" "$plpgsql" ms "<=0.1"
report "replay 100k events vs only reading its rows (count)" "$replay4" "$scan" ms ""

# fold needs its rows in version order (ORDER BY inside the call, which
# PostgreSQL 15 sorts per group); sum() does not care, so the first baseline
# is the same query shape with the same ORDER BY, the second the plain sum.
fold=$(median_ms "SELECT stream_id, chronicle.fold('bench_sum', e ORDER BY version) FROM chronicle.events e WHERE stream_id LIKE 'group-%' GROUP BY stream_id" 5)
group_sum_ordered=$(median_ms "SELECT stream_id, sum((data->>'x')::numeric ORDER BY version) FROM chronicle.events WHERE stream_id LIKE 'group-%' GROUP BY stream_id" 5)
group_sum=$(median_ms "SELECT stream_id, sum((data->>'x')::numeric) FROM chronicle.events WHERE stream_id LIKE 'group-%' GROUP BY stream_id" 5)
report "fold 10k streams x 10 events vs GROUP BY sum(ORDER BY version)" "$fold" "$group_sum_ordered" ms "<=1.5"
report "fold 10k streams x 10 events vs GROUP BY sum()" "$fold" "$group_sum" ms "<=1.5"
