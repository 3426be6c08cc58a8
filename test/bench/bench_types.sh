#!/usr/bin/env bash
# bench_types: what event-type schemas and upcasters cost (docs/reference/types.md).
#  1. checking documents: the C++ schema check vs the same rules written as a
#     SQL expression over jsonb operators (what a CHECK constraint would do);
#  2. appending typed events vs the same events with no schema;
#  3. read_stream of 10,000 events through a two-step upcaster chain, and of
#     events whose type has no upcaster (the one-hash-lookup fast path), vs
#     the same read before any upcaster exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql <<'SQL'
SELECT chronicle.define_event_type('Paid', '{
  "type": "object", "required": ["payment_id", "amount", "currency"], "additionalProperties": false,
  "properties": {"payment_id": {"type": "string", "format": "uuid"},
                 "amount": {"type": "number", "minimum": 0},
                 "currency": {"enum": ["EUR", "USD", "GBP"]},
                 "paid_on": {"type": "string", "format": "date"},
                 "note": {"type": "string", "maxLength": 200, "pattern": "^[^<>]*$"}}}');
CREATE TABLE docs AS
SELECT jsonb_build_object('payment_id', gen_random_uuid(), 'amount', (i % 1000) / 10.0,
                          'currency', (ARRAY['EUR', 'USD', 'GBP'])[1 + i % 3],
                          'paid_on', '2026-11-27', 'note', 'payment number ' || i) AS data
FROM generate_series(1, 100000) i;
SQL

# 1. Checking 100,000 documents.
check_ms=$(median_ms "SELECT count(chronicle._check_event('Paid', 1, data)) FROM docs" 5)
expr_ms=$(median_ms "SELECT count(*) FROM docs WHERE
    data ?& ARRAY['payment_id', 'amount', 'currency']
    AND NOT EXISTS (SELECT FROM jsonb_object_keys(data) k
                    WHERE k NOT IN ('payment_id', 'amount', 'currency', 'paid_on', 'note'))
    AND jsonb_typeof(data->'payment_id') = 'string'
    AND data->>'payment_id' ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\$'
    AND jsonb_typeof(data->'amount') = 'number' AND (data->>'amount')::numeric >= 0
    AND data->'currency' IN ('\"EUR\"', '\"USD\"', '\"GBP\"')
    AND (NOT data ? 'paid_on' OR (jsonb_typeof(data->'paid_on') = 'string'
         AND data->>'paid_on' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}\$'
         AND to_char(to_date(data->>'paid_on', 'YYYY-MM-DD'), 'YYYY-MM-DD') = data->>'paid_on'))
    AND (NOT data ? 'note' OR (jsonb_typeof(data->'note') = 'string'
         AND length(data->>'note') <= 200 AND data->>'note' ~ '^[^<>]*\$'))" 5)
report "check 100k events: C++ schema vs SQL expression" "$check_ms" "$expr_ms" ms "<=1.0"

# 2. Appends: 2,000 events to new streams per statement, typed vs untyped,
#    round-robin in one backend (median of 7 rounds each).
sql -t -A -F ' ' >"$tmp/appends" <<'SQL'
CREATE FUNCTION pg_temp.appends(rounds int) RETURNS TABLE(variant text, ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times jsonb := '{"Paid": [], "Unchecked": []}';
    t text;
    doc constant jsonb := '{"payment_id": "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10", "amount": 12.5,
                            "currency": "EUR", "paid_on": "2026-11-27", "note": "bench"}';
BEGIN
    FOR r IN 0..rounds LOOP   -- round 0 warms up and is not counted
        FOREACH t IN ARRAY ARRAY['Unchecked', 'Paid'] LOOP
            t0 := clock_timestamp();
            PERFORM count(chronicle.append('pay-' || gen_random_uuid(), t, doc)) FROM generate_series(1, 2000);
            IF r > 0 THEN
                times := jsonb_insert(times, ARRAY[t, '0'], to_jsonb(extract(epoch FROM clock_timestamp() - t0) * 1000));
            END IF;
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT k, round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x::numeric)
                                  FROM jsonb_array_elements_text(times->k) x)::numeric, 4)
                 FROM unnest(ARRAY['Paid', 'Unchecked']) k;
END $$;
SELECT * FROM pg_temp.appends(7);
SQL
typed_ms=$(awk '$1 == "Paid" {print $2}' "$tmp/appends")
untyped_ms=$(awk '$1 == "Unchecked" {print $2}' "$tmp/appends")
report "append 2000 events: typed vs no schema" "$typed_ms" "$untyped_ms" ms "<=1.1"

# 3. Reads of 10,000 events.
sql <<'SQL'
SELECT count(chronicle.append_batch('shop-1', (SELECT jsonb_agg(jsonb_build_object(
         'type', t, 'data', jsonb_build_object('amount', i, 'cust', 'c' || i, 'legacy', true)))
       FROM generate_series(1, 1000) i)))
FROM generate_series(1, 10), (VALUES ('Ordered'), ('Plain')) AS types(t);
CHECKPOINT;  -- flush the async commits first (lib.sh, settle)
VACUUM (FREEZE, ANALYZE) chronicle.events;
SQL
# The three cases run round-robin in one backend (a shared machine's noise
# then hits them alike); each figure is the median of 9 rounds.
sql -t -A -F ' ' >"$tmp/reads" <<'SQL'
CREATE FUNCTION pg_temp.reads(rounds int) RETURNS TABLE(variant text, ms numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times jsonb := '{"none": [], "fast": [], "upcast": []}';
BEGIN
    FOR r IN 0..rounds LOOP   -- round 0 warms up and is not counted
        DELETE FROM chronicle.upcasters;
        t0 := clock_timestamp();
        PERFORM count(*) FROM chronicle.read_stream('shop-1');
        IF r > 0 THEN times := jsonb_insert(times, '{none,0}', to_jsonb(extract(epoch FROM clock_timestamp() - t0) * 1000)); END IF;

        PERFORM chronicle.define_upcaster('Other', 1, '{}');
        t0 := clock_timestamp();
        PERFORM count(*) FROM chronicle.read_stream('shop-1');
        IF r > 0 THEN times := jsonb_insert(times, '{fast,0}', to_jsonb(extract(epoch FROM clock_timestamp() - t0) * 1000)); END IF;

        PERFORM chronicle.define_upcaster('Ordered', 1, '{"rename": {"cust": "customer"}, "set": {"currency": "EUR"}}');
        PERFORM chronicle.define_upcaster('Ordered', 2, '{"unset": ["legacy"]}');
        t0 := clock_timestamp();
        PERFORM count(*) FROM chronicle.read_stream('shop-1');
        IF r > 0 THEN times := jsonb_insert(times, '{upcast,0}', to_jsonb(extract(epoch FROM clock_timestamp() - t0) * 1000)); END IF;
    END LOOP;
    RETURN QUERY SELECT k, round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x::numeric)
                                  FROM jsonb_array_elements_text(times->k) x)::numeric, 4)
                 FROM unnest(ARRAY['none', 'fast', 'upcast']) k;
END $$;
SELECT * FROM pg_temp.reads(9);
SQL
none_ms=$(awk '$1 == "none" {print $2}' "$tmp/reads")
fast_ms=$(awk '$1 == "fast" {print $2}' "$tmp/reads")
upcast_ms=$(awk '$1 == "upcast" {print $2}' "$tmp/reads")
report "read 20k events, half upcast v1->v3, vs no upcasters" "$upcast_ms" "$none_ms" ms "<=2.0"
report "read 20k events, types without upcasters (fast path)" "$fast_ms" "$none_ms" ms "<=1.05"
