#!/usr/bin/env bash
# Subscriptions (docs/reference/subscriptions.md): poll against read_all of the same page.
#   1. poll of 1000 events from the middle of a 100,000-event log
#      vs read_all of the same page (the same rows)                (target <= 1.2x)
#   2. the same with a category filter (half the log)             (target <= 1.2x)
#   3. one member of a group of 4: 1000 events, its streams only,
#      vs read_all of 1000 events                    (informational: reads ~4x the rows)
# Times are server-side medians of 25 executions taking turns with the
# baseline in one backend (median_pair_ms).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

sql <<'SQL'
-- 100,000 events: 500 account and 500 order streams, 100 events each, in
-- batches of 100 (every batch its own transaction id).
SELECT chronicle.append_batch(c || '-' || s, (
    SELECT jsonb_agg(jsonb_build_object('type', 'Tick', 'data', jsonb_build_object('n', i)))
    FROM generate_series(1, 100) i))
FROM generate_series(1, 500) s, (VALUES ('account'), ('order')) c(c);
SQL
settle chronicle.events

# The middle of the log: every subscription's checkpoint.
read -r tx pos < <(sql -t -A -F ' ' -c "SELECT tx_id, global_position FROM chronicle.events
    ORDER BY tx_id, global_position OFFSET 50000 LIMIT 1")
sql >/dev/null <<SQL
SELECT chronicle.subscribe('all');
SELECT chronicle.subscribe('accounts', category => 'account');
SELECT chronicle.subscribe('group');
SELECT count(*) FROM chronicle.poll('group', 1, 0, 4);
SELECT chronicle.ack(name, '$tx', $pos, m)
FROM (VALUES ('all', 0), ('accounts', 0), ('group', 0)) v(name, m);
SQL

same=$(sql -t -A -c "SELECT (SELECT array_agg(event_id) FROM chronicle.poll('all', 1000))
                          = (SELECT array_agg(event_id) FROM chronicle.read_all('$tx', $pos, 1000))")
[[ $same == t ]] || echo "   (poll and read_all returned different pages!)"

read -r poll page < <(median_pair_ms "SELECT * FROM chronicle.poll('all', 1000)" \
    "SELECT * FROM chronicle.read_all('$tx', $pos, 1000)" 25)
report "poll: 1000 events" "$poll" "$page" ms "<=1.2" "read_all of the same page"

read -r poll_cat page_cat < <(median_pair_ms "SELECT * FROM chronicle.poll('accounts', 1000)" \
    "SELECT * FROM chronicle.read_all('$tx', $pos, 1000, category => 'account')" 25)
report "poll: 1000 events of a category" "$poll_cat" "$page_cat" ms "<=1.2" "read_all of the same page"

read -r poll_member page2 < <(median_pair_ms "SELECT * FROM chronicle.poll('group', 1000, 0, 4)" \
    "SELECT * FROM chronicle.read_all('$tx', $pos, 1000)" 25)
report "poll: 1000 events of member 0 of 4" "$poll_member" "$page2" ms "" "read_all of 1000 events"
