-- chronicle.distribute() (docs/design/citus.md) without Citus: this cluster has no
-- citus extension, so distribute() refuses with 0A000 and a hint, and leaves
-- the single-node store exactly as it was.
\set VERBOSITY default
SELECT count(*) AS citus_installed FROM pg_extension WHERE extname = 'citus';

SELECT chronicle.distribute();
\set VERBOSITY sqlstate
SELECT chronicle.distribute(8);
\set VERBOSITY default

-- Nothing changed: event_id and global_position are still unique on their
-- own (the keys distribute() replaces on a Citus cluster).
SELECT conname, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE conrelid = 'chronicle.events'::regclass AND contype IN ('p', 'u')
 ORDER BY conname;

-- Only the extension's owner (or a superuser) may distribute: no grant.
SELECT has_function_privilege('chronicle_writer', 'chronicle.distribute(int)', 'EXECUTE') AS writer_may,
       has_function_privilege('chronicle_reader', 'chronicle.distribute(int)', 'EXECUTE') AS reader_may;
SET ROLE chronicle_writer;
\set VERBOSITY sqlstate
SELECT chronicle.distribute();
\set VERBOSITY default
RESET ROLE;

-- An append still works as on any single node (rolled back: the other
-- tests of this database count the log).
BEGIN;
SELECT chronicle.append('citus-absent-1', 'Opened', '{"n": 1}');
SELECT chronicle.stream_version('citus-absent-1');
ROLLBACK;

-- The cluster-wide log reader needs Citus too; read_all is the one-node log.
\set VERBOSITY sqlstate
SELECT * FROM chronicle.read_all_nodes();
-- So does taking every node's ledger digest; digest() is the one-node one.
SELECT * FROM chronicle.digest_nodes();
\set VERBOSITY default
SELECT count(*) AS events_in_log FROM chronicle.read_all() WHERE stream_id = 'citus-absent-1';
