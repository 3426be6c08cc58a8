-- append bumps chronicle.streams.version through the table AM
-- (src/events/stream_row.cpp), not through an UPDATE statement.  It must
-- still refuse what an UPDATE statement refuses.  Errors are shown as
-- "SQLSTATE: message", because the code is what a client catches.
-- Everything below changes chronicle's tables as their owner would: undone at the end.
BEGIN;

-- A CHECK constraint the owner adds to chronicle.streams holds for every
-- append, as it would for an UPDATE: here a stream of at most two events
-- (NOT VALID: checked on new row versions, not on the streams of earlier tests).
ALTER TABLE chronicle.streams ADD CONSTRAINT at_most_two CHECK (version <= 2) NOT VALID;
SELECT chronicle.append('capped-1', 'Happened', '{}');
SELECT chronicle.append('capped-1', 'Happened', '{}');
SELECT regress.error_of($$SELECT chronicle.append('capped-1', 'Happened', '{}')$$);
-- The refused append wrote nothing.
SELECT version FROM chronicle.streams WHERE stream_id = 'capped-1';
SELECT count(*) FROM chronicle.events WHERE stream_id = 'capped-1';
ALTER TABLE chronicle.streams DROP CONSTRAINT at_most_two;

-- A table that publishes its updates needs a replica identity: without one
-- an UPDATE is refused (55000), else subscribers could not apply it.  The
-- bump is an update of the stream row, refused the same way.
SELECT chronicle.append('replicated-1', 'Happened', '{}');
SET LOCAL client_min_messages = error; -- wal_level may be below logical: no warning
CREATE PUBLICATION chronicle_test_pub FOR TABLE chronicle.streams;
RESET client_min_messages;
ALTER TABLE chronicle.streams REPLICA IDENTITY NOTHING;
SELECT regress.error_of($$UPDATE chronicle.streams SET updated_at = updated_at WHERE stream_id = 'replicated-1'$$);
SELECT regress.error_of($$SELECT chronicle.append('replicated-1', 'Happened', '{}')$$);
SELECT version FROM chronicle.streams WHERE stream_id = 'replicated-1';
-- With the identity back, appends go on.
ALTER TABLE chronicle.streams REPLICA IDENTITY DEFAULT;
SELECT chronicle.append('replicated-1', 'Happened', '{}');

-- The stream row changed earlier in the same command: the owner's UPDATE of
-- chronicle.streams whose RETURNING list, or a CTE, appends.  The append sees
-- that version, as the UPDATE statement it replaces did, and adds to it.
SELECT chronicle.append('self-1', 'Happened', '{}');
UPDATE chronicle.streams SET updated_at = updated_at WHERE stream_id = 'self-1'
RETURNING chronicle.append('self-1', 'Happened', '{}');
WITH touched AS (UPDATE chronicle.streams SET updated_at = updated_at WHERE stream_id = 'self-1' RETURNING 1)
SELECT chronicle.append('self-1', 'Happened', '{}') FROM touched;
SELECT version FROM chronicle.streams WHERE stream_id = 'self-1';
SELECT * FROM chronicle.verify('self-1');

-- The owner may replace the documented primary key.  The direct bump and
-- the previous-hash look-up build their scan keys for (stream_id) and
-- (stream_id, version); on any other key, append uses SQL statements, which
-- find the rows whatever the indexes.
SELECT chronicle.append('rekeyed-1', 'Happened', '{}');
ALTER TABLE chronicle.events DROP CONSTRAINT events_pkey;
ALTER TABLE chronicle.events ADD PRIMARY KEY (version, stream_id);
SELECT chronicle.append('rekeyed-1', 'Happened', '{}');
ALTER TABLE chronicle.events DROP CONSTRAINT events_pkey;
ALTER TABLE chronicle.events ADD PRIMARY KEY (event_id);
SELECT chronicle.append('rekeyed-1', 'Happened', '{}');
ALTER TABLE chronicle.streams DROP CONSTRAINT streams_pkey CASCADE;
ALTER TABLE chronicle.streams ADD PRIMARY KEY (category, stream_id);
SELECT chronicle.append('rekeyed-1', 'Happened', '{}');
-- Each event chained to the one before: the hash chain is intact.
SELECT version FROM chronicle.streams WHERE stream_id = 'rekeyed-1';
SELECT * FROM chronicle.verify('rekeyed-1');

ROLLBACK;
