-- The seed's bank account (docs/reference/replay.md): three events, one reducer, replay.
\set QUIET on
\pset footer off
\echo 'Define the reducer and append three events:'
SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}') AS reducer_revision \gset
SELECT chronicle.append('account-123456', 'AccountOpened', '{"AccountNumber":123456,"Owner":"John Doe","InitialBalance":0}') \gset
SELECT chronicle.append('account-123456', 'DepositMade',   '{"AccountNumber":123456,"Amount":100}') \gset
SELECT chronicle.append('account-123456', 'WithdrawalMade','{"AccountNumber":123456,"Amount":50}') \gset

\echo 'The stream:'
SELECT version, type, data FROM chronicle.read_stream('account-123456');
\echo 'Current state (expect balance 50):'
SELECT chronicle.replay('account-123456', 'account') AS state;
\echo 'State as of version 2 (expect balance 100):'
SELECT chronicle.replay('account-123456', 'account', as_of_version => 2) AS state;

\set ON_ERROR_STOP off
\set SHOW_CONTEXT never
\echo 'Appending with a stale expected_version is refused (SE001):'
SELECT chronicle.append('account-123456', 'DepositMade', '{"Amount":1}', expected_version => 1);
\echo 'The history is immutable, even for the owner (SE002):'
UPDATE chronicle.events SET data = '{}' WHERE stream_id = 'account-123456';
\set ON_ERROR_STOP on
\echo 'Hash chain problems found by verify (expect 0):'
SELECT count(*) AS problems FROM chronicle.verify('account-123456');

\echo 'The read side: a projection table, kept current inside every append (expect balance 50, then 75):'
SELECT chronicle.define_projection('accounts', 'account', 'account_balances',
                                   '{"owner": "text", "balance": "numeric"}') \gset
SELECT * FROM account_balances;
SELECT chronicle.append('account-123456', 'DepositMade', '{"AccountNumber":123456,"Amount":25}') \gset
SELECT * FROM account_balances;
\echo 'A snapshot at version 4; replay now starts from it (expect 4, then balance 75):'
SELECT chronicle.take_snapshot('account-123456', 'account') AS snapshot_version;
SELECT chronicle.replay('account-123456', 'account') AS state;
