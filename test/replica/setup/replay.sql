-- Replica test, replay part (setup, on the primary): reducers of both kinds
-- and a stream for the standby to replay.
SELECT chronicle.define_reducer('replica_account', '{
  "AccountOpened":  {"set": {"owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}},
  "*":              {"push": {"seen": "@version"}}
}');
CREATE FUNCTION public.replica_count(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'last', e.type) $$;
SELECT chronicle.define_reducer('replica_count', 'public.replica_count(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.append_batch('replica_account-1', '[
  {"type": "AccountOpened",  "data": {"Owner": "Ann", "InitialBalance": 0}},
  {"type": "DepositMade",    "data": {"Amount": 100.10}},
  {"type": "WithdrawalMade", "data": {"Amount": 0.05}}]');
SELECT chronicle.append('replica_account-2', 'AccountOpened', '{"Owner": "Bob", "InitialBalance": 7}');
