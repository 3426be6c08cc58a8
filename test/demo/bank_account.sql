-- The seed's bank account (SPEC section 3): three events, one reducer, replay.
\set QUIET on
\pset footer off
SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}') AS reducer_revision;
SELECT chronicle.append('account-123456', 'AccountOpened', '{"AccountNumber":123456,"Owner":"John Doe","InitialBalance":0}') AS version;
SELECT chronicle.append('account-123456', 'DepositMade',   '{"AccountNumber":123456,"Amount":100}') AS version;
SELECT chronicle.append('account-123456', 'WithdrawalMade','{"AccountNumber":123456,"Amount":50}') AS version;

\echo 'The stream:'
SELECT version, type, data FROM chronicle.read_stream('account-123456');
\echo 'Current state (expect balance 50):'
SELECT chronicle.replay('account-123456', 'account') AS state;
\echo 'State as of version 2 (expect balance 100):'
SELECT chronicle.replay('account-123456', 'account', as_of_version => 2) AS state;
\echo 'Appending with a stale expected_version is refused:'
\set VERBOSITY sqlstate
\set ON_ERROR_STOP off
SELECT chronicle.append('account-123456', 'DepositMade', '{"Amount":1}', expected_version => 1);
\set ON_ERROR_STOP on
\echo 'The history is immutable, even for the owner:'
\set ON_ERROR_STOP off
UPDATE chronicle.events SET data = '{}' WHERE stream_id = 'account-123456';
\set ON_ERROR_STOP on
\echo 'Hash chain check (no rows = intact):'
SELECT * FROM chronicle.verify('account-123456');
