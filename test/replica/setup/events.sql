-- Events written on the primary for the replica checks (checks/events.sql).
SELECT chronicle.append('account-1', 'Opened', '{"owner": "ann"}', '{"by": "clerk"}');
SELECT chronicle.append('account-1', 'Deposited', '{"amount": 10.50}');
SELECT chronicle.append_batch('account-2', '[
  {"type": "Opened", "data": {"owner": "bob"}},
  {"type": "Deposited", "data": {"amount": 3}, "event_id": "e0000000-0000-4000-8000-000000000001"}]');
BEGIN;
SELECT chronicle.append('cart-1', 'Created', '{}');
SELECT chronicle.append('account-1', 'Withdrawn', '{"amount": 1}');
COMMIT;
