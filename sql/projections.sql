-- Inline projections (docs/reference/projections.md): a table per projection, one row per
-- stream, kept current inside every append.
-- The seed's bank account, with a category: the projection covers its streams.
SELECT chronicle.define_reducer('proj_account', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance",
                             "address.city": "$.City", "tags": "$.Tags"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}', category => 'pacct');
SELECT chronicle.append('pacct-1', 'AccountOpened',
    '{"AccountNumber": 1, "Owner": "John Doe", "InitialBalance": 0, "City": "Oslo", "Tags": ["vip"]}');
SELECT chronicle.append('pacct-1', 'DepositMade', '{"Amount": 100}');

-- Defining fills the table from the log at once; it returns the table.
SELECT chronicle.define_projection('accounts', 'proj_account', 'proj_accounts', '{
  "owner": "text",
  "balance": "numeric(12,2)",
  "number": "int",
  "city": {"type": "text", "path": "address.city"},
  "tags": {"type": "jsonb", "path": "tags"}
}');
-- Columns come in the order jsonb keeps an object's keys (shorter first).
\d proj_accounts
SELECT * FROM proj_accounts;
SELECT name, reducer, category, table_name, columns FROM chronicle.projections;

-- Every append to a covered stream updates its row in the same transaction.
SELECT chronicle.append('pacct-1', 'WithdrawalMade', '{"Amount": 30.5}');
SELECT chronicle.append('pacct-2', 'AccountOpened', '{"AccountNumber": 2, "Owner": "Ann", "InitialBalance": 7}');
SELECT chronicle.append_batch('pacct-2', '[{"type": "DepositMade", "data": {"Amount": 1}},
                                          {"type": "DepositMade", "data": {"Amount": 2}}]');
-- Other categories are not covered.
SELECT chronicle.append('other-1', 'AccountOpened', '{"AccountNumber": 3, "Owner": "Bob"}');
SELECT * FROM proj_accounts ORDER BY stream_id;

-- A missing key or a JSON null is NULL; a jsonb column keeps the JSON value
-- (a string stays a JSON string); other types read the value's text.
SELECT chronicle.append('pacct-3', 'AccountOpened', '{"AccountNumber": 3, "Owner": null}');
SELECT stream_id, owner, balance, city, tags FROM proj_accounts WHERE stream_id = 'pacct-3';

-- Rolling back the append rolls back the row.
BEGIN;
SELECT chronicle.append('pacct-1', 'DepositMade', '{"Amount": 1000}');
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-1';
ROLLBACK;
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-1';
-- The next append starts from the committed state, not the rolled-back one
-- (each backend remembers the states it computed, promoted at commit).
SELECT chronicle.append('pacct-1', 'DepositMade', '{"Amount": 0.5}');
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-1';
-- The same for a subtransaction that rolls back.
DO $$
BEGIN
    PERFORM chronicle.append('pacct-1', 'DepositMade', '{"Amount": 1000}');
    RAISE EXCEPTION 'undo';
EXCEPTION WHEN raise_exception THEN
    NULL;
END $$;
SELECT chronicle.append('pacct-1', 'WithdrawalMade', '{"Amount": 0.5}');
SELECT version, balance, chronicle.replay('pacct-1', 'proj_account')->>'balance' AS replayed
FROM proj_accounts WHERE stream_id = 'pacct-1';

-- A value the column's type rejects fails the append: the event is not
-- stored and the row keeps its values.  The error is the type's own, named
-- after the projection, stream and version.
\set VERBOSITY default
SELECT chronicle.append('pacct-1', 'AccountOpened', '{"AccountNumber": "one"}');
SELECT chronicle.stream_version('pacct-1') AS still_3, number FROM proj_accounts WHERE stream_id = 'pacct-1';
-- The column's modifier applies as in a plain INSERT: 10^10 overflows numeric(12,2).
SELECT chronicle.append('pacct-1', 'DepositMade', '{"Amount": 10000000000}');
SELECT regress.error_of($$SELECT chronicle.append('pacct-1', 'DepositMade', '{"Amount": 10000000000}')$$);

-- rebuild_projection replaces the contents from the log and returns the
-- rows written.  Here the owner damaged the table first.
DELETE FROM proj_accounts WHERE stream_id = 'pacct-2';
UPDATE proj_accounts SET balance = -1 WHERE stream_id = 'pacct-1';
INSERT INTO proj_accounts (stream_id, version) VALUES ('pacct-bogus', 9);
SELECT chronicle.rebuild_projection('accounts');
SELECT stream_id, version, owner, balance FROM proj_accounts ORDER BY stream_id;

-- A second projection of the same reducer, in another schema, with quoted
-- names: the replay is shared, each table gets its row.
CREATE SCHEMA "Proj Schema";
SELECT chronicle.define_projection('owners', 'proj_account', '"Proj Schema"."Owners"', '{"Owner Name": {"type": "text", "path": "owner"}}');
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 10}');
SELECT * FROM "Proj Schema"."Owners" ORDER BY stream_id;
SELECT stream_id, version, balance FROM proj_accounts WHERE stream_id = 'pacct-2';

-- A reducer without a category covers every stream; a function reducer
-- runs as for replay.  A NULL state gives a row of NULLs.
CREATE FUNCTION pg_temp.count_events(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT CASE WHEN e.type = 'Reset' THEN NULL
                ELSE jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'last', e.type) END
$$;
SELECT chronicle.define_reducer('proj_counter', 'pg_temp.count_events(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_projection('counts', 'proj_counter', 'proj_counts', '{"n": "bigint", "last": "text"}');
SELECT * FROM proj_counts ORDER BY stream_id;
SELECT chronicle.append('other-1', 'Reset', '{}');
SELECT chronicle.append('newcat-1', 'Hello', '{}');
SELECT * FROM proj_counts WHERE stream_id IN ('other-1', 'newcat-1') ORDER BY stream_id;
-- Replacing the reducer's function: the remembered states are dropped, the
-- next row is what a full replay gives (older rows wait for a rebuild).
CREATE OR REPLACE FUNCTION pg_temp.count_events(state jsonb, e chronicle.events) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 10, 'last', e.type)
$$;
SELECT chronicle.append('newcat-1', 'Hello', '{}');
SELECT n, (chronicle.replay('newcat-1', 'proj_counter')->>'n')::int AS replayed FROM proj_counts WHERE stream_id = 'newcat-1';
SELECT chronicle.drop_projection('counts');

-- A new upcaster changes how old events read: the remembered states are
-- dropped too.
SELECT chronicle.define_reducer('proj_upcast', '{"Paid": {"add": {"total": "$.amount"}}}', category => 'pup');
SELECT chronicle.append('pup-1', 'Paid', '{"amt": 5}');
SELECT chronicle.define_projection('upcast', 'proj_upcast', 'proj_upcast', '{"total": "numeric"}');
SELECT chronicle.append('pup-1', 'Paid', '{"amt": 5}');
SELECT chronicle.define_upcaster('Paid', 1, '{"rename": {"amt": "amount"}}');
SELECT chronicle.append('pup-1', 'Paid', '{"amt": 1}');
SELECT version, total, chronicle.replay('pup-1', 'proj_upcast')->>'total' AS replayed FROM proj_upcast;
SELECT chronicle.drop_projection('upcast');
DELETE FROM chronicle.upcasters WHERE type = 'Paid';

-- The table follows a rename (the catalog holds its oid).
ALTER TABLE proj_accounts RENAME TO proj_accounts_renamed;
SELECT chronicle.append('pacct-3', 'DepositMade', '{"Amount": 5}');
SELECT version, balance FROM proj_accounts_renamed WHERE stream_id = 'pacct-3';
ALTER TABLE proj_accounts_renamed RENAME TO proj_accounts;
-- A column renamed away breaks it, loudly.
ALTER TABLE proj_accounts RENAME COLUMN city TO town;
SELECT chronicle.append('pacct-3', 'DepositMade', '{"Amount": 5}');
ALTER TABLE proj_accounts RENAME COLUMN town TO city;
SELECT chronicle.append('pacct-3', 'DepositMade', '{"Amount": 5}');
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-3';

-- Bad definitions: each error has its code, and nothing is created.
SELECT regress.error_of($$SELECT chronicle.define_projection(NULL, 'proj_account', 'p_bad', '{}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', NULL)$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('', 'proj_account', 'p_bad', '{}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'no_such_reducer', 'p_bad', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '["a"]')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": 1}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": {"path": "x"}}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": {"type": "int", "default": 1}}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": {"type": "int", "path": "x..y"}}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": {"type": "int", "path": 1}}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": ""}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"version": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"stream_id": "text"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', jsonb_build_object(repeat('x', 64), 'int'))$$);
-- Type names go through PostgreSQL's type parser, never into SQL as written.
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": "no_such_type"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": "int); DROP TABLE proj_accounts; --"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": "record"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'p_bad', '{"a": "varchar(x)"}')$$);
-- Table names: an existing table, a bad name, a missing schema, a temporary
-- table, the extension's schema.
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'proj_accounts', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'a.b.c.d', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', '"unterminated', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'no_such_schema.t', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'pg_temp.t', '{"a": "int"}')$$);
SELECT regress.error_of($$SELECT chronicle.define_projection('bad', 'proj_account', 'chronicle.t', '{"a": "int"}')$$);
-- A projection name is unique.
SELECT regress.error_of($$SELECT chronicle.define_projection('accounts', 'proj_account', 'p_bad', '{"a": "int"}')$$);
SELECT to_regclass('p_bad') AS not_created, count(*) AS projections FROM chronicle.projections;

-- rebuild and drop of an unknown projection.
SELECT regress.error_of($$SELECT chronicle.rebuild_projection('nope')$$);
SELECT regress.error_of($$SELECT chronicle.drop_projection('nope')$$);
SELECT regress.error_of($$SELECT chronicle.rebuild_projection(NULL)$$);
SELECT regress.error_of($$SELECT chronicle.drop_projection('owners', NULL)$$);

-- A table dropped behind the projection's back fails the appends it
-- covered, with the way out in the hint.
DROP TABLE "Proj Schema"."Owners";
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 1}');
SELECT chronicle.rebuild_projection('owners');
SELECT chronicle.drop_projection('owners', false);
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 1}');
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-2';

-- drop_projection(name, false) keeps the table, which appends no longer touch.
SELECT chronicle.drop_projection('accounts', drop_table => false);
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 1}');
SELECT chronicle.stream_version('pacct-2') AS stream, version AS table_row FROM proj_accounts WHERE stream_id = 'pacct-2';
DROP TABLE proj_accounts;
-- Defined, appended to and rolled back in one transaction: the append sees
-- the projection at once, and the rollback takes both away.
BEGIN;
SELECT chronicle.define_projection('accounts', 'proj_account', 'proj_accounts', '{"balance": "numeric"}');
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 1}');
SELECT version, balance FROM proj_accounts WHERE stream_id = 'pacct-2';
ROLLBACK;
SELECT to_regclass('proj_accounts') AS gone, count(*) AS projections FROM chronicle.projections;
SELECT chronicle.append('pacct-2', 'DepositMade', '{"Amount": 1}');
-- By default the table goes with the projection.
SELECT chronicle.define_projection('accounts', 'proj_account', 'proj_accounts', '{"balance": "numeric"}');
SELECT chronicle.drop_projection('accounts');
SELECT to_regclass('proj_accounts') AS dropped, count(*) AS projections FROM chronicle.projections;
DROP SCHEMA "Proj Schema";
DELETE FROM chronicle.reducers WHERE name IN ('proj_account', 'proj_counter', 'proj_upcast');
