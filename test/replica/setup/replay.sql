-- Replica test, replay part: data written on the primary before the
-- standby's checks (test/replica/checks/replay.sql) run.
SELECT chronicle.define_reducer('replica_account', '{
  "AccountOpened":  {"set": {"owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}');
SELECT chronicle.append_batch('replica_account-1', '[
  {"type": "AccountOpened",  "data": {"Owner": "Ann", "InitialBalance": 0}},
  {"type": "DepositMade",    "data": {"Amount": 100.10}},
  {"type": "WithdrawalMade", "data": {"Amount": 0.05}}]');
