#!/usr/bin/env bash
# Snapshots (docs/reference/snapshots.md): replay of a 100,000-event stream that has a
# snapshot at version 99,900 (the newest of the reducer's revision: replay
# reads it and applies 100 events) vs the full replay of the same stream by
# a reducer with the same rules and no snapshot.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql <<'SQL'
CREATE FUNCTION pg_temp.load(stream text, first int, last int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    done int := first - 1;
BEGIN
    WHILE done < last LOOP
        PERFORM chronicle.append_batch(stream, (
            SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'data', jsonb_build_object('x', (i % 100) + 0.25)))
            FROM generate_series(done + 1, least(done + 1000, last)) i));
        done := least(done + 1000, last);
    END LOOP;
END $$;
SELECT chronicle.define_reducer('with_snapshot', '{"Tick": {"add": {"total": "$.x"}, "max": {"hi": "$.x"}}}');
SELECT chronicle.define_reducer('without', '{"Tick": {"add": {"total": "$.x"}, "max": {"hi": "$.x"}}}');
SELECT pg_temp.load('long-1', 1, 99900);
SELECT chronicle.take_snapshot('long-1', 'with_snapshot');
SELECT pg_temp.load('long-1', 99901, 100000);
SQL
settle chronicle.events chronicle.snapshots

sql -t -A <<'SQL'
SELECT CASE WHEN chronicle.replay('long-1', 'with_snapshot') = chronicle.replay('long-1', 'without')
             AND (SELECT array_agg(version) FROM chronicle.snapshots) = '{99900}'
             AND chronicle.stream_version('long-1') = 100000
       THEN 'results agree' ELSE 'RESULTS DIFFER' END;
SQL

read -r snap full < <(median_pair_ms "SELECT chronicle.replay('long-1', 'with_snapshot')" \
    "SELECT chronicle.replay('long-1', 'without')" 9)
report "replay 100k events from a snapshot at 99,900 vs full replay" "$snap" "$full" ms ""
