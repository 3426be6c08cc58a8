-- A projection's table is written as its owner during every writer's append
-- (the observer).  When the owner's constraint refuses the row, PostgreSQL's
-- DETAIL ("Failing row contains (...)") is computed for the owner, who may
-- read every column, the owner's own columns besides the projection's
-- included.  The appender must not read through it what it may not SELECT
-- (as security_tree_errors for tree maintenance).
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE ROLE regress_perr_owner IN ROLE chronicle_writer;
CREATE ROLE regress_perr_appender IN ROLE chronicle_writer;
CREATE SCHEMA perr AUTHORIZATION regress_perr_owner;
SELECT chronicle.define_reducer('perr_balance', '{"PerrDeposited": {"add": {"balance": "$.amount"}}}'::text, 'perr');

SET ROLE regress_perr_owner;
SELECT chronicle.define_projection('perr_balances', 'perr_balance', 'perr.balances', '{"balance": "numeric"}');
-- A column of the owner's own, a CHECK, and no SELECT for readers.
ALTER TABLE perr.balances ADD COLUMN note text DEFAULT 'the owner''s private note',
    ADD CONSTRAINT nonneg CHECK (balance >= 0);
REVOKE SELECT ON perr.balances FROM chronicle_reader;
SELECT chronicle.append('perr-1', 'PerrDeposited', '{"amount": 5}', '{}');
RESET ROLE;

-- The appender's append is refused; the note is not shown.
SET ROLE regress_perr_appender;
SELECT chronicle.append('perr-1', 'PerrDeposited', '{"amount": -50}', '{}');
RESET ROLE;
-- One who may read the table sees PostgreSQL's DETAIL.
GRANT SELECT ON perr.balances TO regress_perr_appender;
SET ROLE regress_perr_appender;
SELECT chronicle.append('perr-1', 'PerrDeposited', '{"amount": -50}', '{}');
RESET ROLE;

SELECT stream_id, version, balance FROM perr.balances;
SELECT version FROM chronicle.streams WHERE stream_id = 'perr-1';

SET ROLE regress_perr_owner;
SELECT chronicle.drop_projection('perr_balances', true);
RESET ROLE;
DROP SCHEMA perr;
DELETE FROM chronicle.reducers WHERE name = 'perr_balance';
DROP ROLE regress_perr_appender;
DROP ROLE regress_perr_owner;
