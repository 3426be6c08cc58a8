-- chronicle: the last part of the install script.  Whatever the modules
-- created, PUBLIC keeps nothing but USAGE on the schema; each module grants
-- what the chronicle_reader / chronicle_writer roles need next to its objects.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA chronicle FROM PUBLIC;

GRANT EXECUTE ON FUNCTION chronicle.version() TO chronicle_reader;
-- The one exception: a WHEN clause of the tree tables' guard trigger calls
-- it as whoever updates such a table (src/tree/tree.sql).
GRANT EXECUTE ON FUNCTION chronicle._tree_maintaining() TO PUBLIC;
