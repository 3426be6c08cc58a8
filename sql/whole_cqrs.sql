-- (After the events_* files in sql/schedule: they expect the log as they left it.)
-- Snapshots, a projection and a subscription on one category at once: the
-- append observers run in order (snapshots, then projections), and replay's
-- start hooks chain (projections' remembered states, then snapshots).  Every
-- read side must agree with a full fold of the log.
SELECT chronicle.define_reducer('together', '{
  "Opened":    {"set": {"owner": "$.owner", "balance": 0}},
  "Deposited": {"add": {"balance": "$.amount"}},
  "Withdrawn": {"sub": {"balance": "$.amount"}}
}', category => 'tog', snapshot_every => 3);
SELECT chronicle.define_projection('together_view', 'together', 'together_balances',
                                   '{"owner": "text", "balance": "numeric"}');
SELECT chronicle.subscribe('together_sub', category => 'tog');

SELECT chronicle.append('tog-1', 'Opened', '{"owner": "Ann"}');
SELECT chronicle.append_batch('tog-1', '[{"type": "Deposited", "data": {"amount": 10.5}},
                                         {"type": "Deposited", "data": {"amount": 20}},
                                         {"type": "Withdrawn", "data": {"amount": 0.5}}]');
SELECT chronicle.append('tog-2', 'Opened', '{"owner": "Bo"}');
SELECT chronicle.append('tog-1', 'Deposited', '{"amount": 1}');
SELECT chronicle.append('tog-1', 'Deposited', '{"amount": 2}');

-- A rolled-back append that crosses a multiple leaves no snapshot and no row change.
BEGIN;
SELECT chronicle.append('tog-2', 'Deposited', '{"amount": 100}');
SELECT chronicle.append('tog-2', 'Deposited', '{"amount": 100}');
SELECT count(*) AS snapshots_in_tx FROM chronicle.snapshots WHERE stream_id = 'tog-2';
SELECT balance AS balance_in_tx FROM together_balances WHERE stream_id = 'tog-2';
ROLLBACK;

-- The snapshots taken by the appends that crossed 3 and 6.
SELECT stream_id, version, state FROM chronicle.snapshots WHERE reducer = 'together' ORDER BY 1, 2;
-- The projection, replay (which starts from a snapshot) and a full fold agree.
SELECT * FROM together_balances ORDER BY stream_id;
SELECT p.stream_id,
       chronicle.replay(p.stream_id, 'together') = f.state AS replay_is_fold,
       (f.state->>'balance')::numeric = p.balance AND f.state->>'owner' = p.owner AS projection_is_fold
FROM together_balances p
JOIN (SELECT stream_id, chronicle.fold('together', e ORDER BY version) AS state
      FROM chronicle.events e WHERE stream_id LIKE 'tog-%' GROUP BY stream_id) f USING (stream_id)
ORDER BY 1;
-- As of a version below, at and above the snapshot at 3.
SELECT v, chronicle.replay('tog-1', 'together', as_of_version => v) AS state
FROM generate_series(2, 4) v;
-- The subscription sees every committed event of the category, in log order, once.
SELECT stream_id, version, type FROM chronicle.poll('together_sub', max_count => 100);

SELECT chronicle.drop_projection('together_view');
SELECT chronicle.unsubscribe('together_sub');
SELECT chronicle.prune_snapshots('together', keep => 0);
