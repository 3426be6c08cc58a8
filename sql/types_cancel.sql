-- A cancel (statement_timeout, pg_cancel_backend) that arrives while the
-- regular-expression engine runs for a schema's "pattern" is a cancel:
-- 57014, as PostgreSQL's own ~ reports it, not a malformed schema (SE003) nor
-- a failed regular expression (2201B).  The engine returns REG_CANCEL when an
-- interrupt is pending; chronicle must let PostgreSQL report the interrupt
-- before it reads that as the pattern's fault.  Nothing is stored either way.
-- The patterns take minutes to hours at least (their cost is polynomial of
-- high degree in their size), so the 20 ms timeout always fires inside the
-- regular-expression engine.

-- Compiling: 8,000 nested alternations (seconds of regcomp on a fast machine).
CREATE TEMP TABLE cancel_schemas AS
SELECT jsonb_build_object('properties', jsonb_build_object('s', jsonb_build_object(
         'pattern', repeat('(a|', 8000) || repeat(')', 8000)))) AS schema;
\set VERBOSITY sqlstate
SET statement_timeout = '20ms';
SELECT chronicle.define_event_type('c_compile', schema) FROM cancel_schemas;
RESET statement_timeout;
\set VERBOSITY default
SELECT count(*) AS stored FROM chronicle.event_types WHERE type = 'c_compile';

-- Matching: back-references make the engine backtrack over every split of
-- 3,001 characters in three (about 10^10 steps).
SELECT chronicle.define_event_type('c_match', '{"properties": {"s": {"type": "string", "pattern": "^(.*)(.*)(.*)\\3\\2\\1$"}}}');
SELECT regress.check('c_match', '{"s": "aaaaaa"}') AS six, regress.check('c_match', '{"s": "aaaaab"}') AS not_six;
CREATE TEMP TABLE cancel_data AS SELECT jsonb_build_object('s', repeat('a', 3001)) AS data;
\set VERBOSITY sqlstate
SET statement_timeout = '20ms';
SELECT chronicle.append('c_match-1', 'c_match', data) FROM cancel_data;
SELECT chronicle._check_event('c_match', 1, data) FROM cancel_data;
RESET statement_timeout;
\set VERBOSITY default
SELECT chronicle.stream_version('c_match-1') AS version_after_cancel;

-- A definition compiled into the session's cache (here one written by hand,
-- which the cache compiles at its first use) and cancelled there: the cancel
-- is not remembered as the definition's compile error.  The second use is
-- cancelled again while it compiles, never answered SE003 from the cache.
INSERT INTO chronicle.event_types (type, type_version, schema) SELECT 'c_cached', 1, schema FROM cancel_schemas;
\set VERBOSITY sqlstate
SET statement_timeout = '20ms';
SELECT chronicle._check_event('c_cached', 1, '{"s": "a"}');
SELECT chronicle._check_event('c_cached', 1, '{"s": "a"}');
RESET statement_timeout;
\set VERBOSITY default
DELETE FROM chronicle.event_types WHERE type = 'c_cached';

-- The session goes on: the same definitions work once no cancel is pending.
SELECT chronicle.append('c_match-1', 'c_match', '{"s": "abab"}');
SELECT regress.check('c_match', '{"s": "aaaaab"}') AS still_checked;
DROP TABLE cancel_schemas, cancel_data;
