-- chronicle: the last part of the install script.  Whatever the modules
-- created, PUBLIC keeps nothing but USAGE on the schema; each module grants
-- what the chronicle_reader / chronicle_writer roles need next to its objects.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA chronicle FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA chronicle FROM PUBLIC;

GRANT EXECUTE ON FUNCTION chronicle.version() TO chronicle_reader;
