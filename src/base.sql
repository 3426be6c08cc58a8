-- chronicle: the extension's base: guard, roles, schema privileges, version().
-- The install script chronicle--<version>.sql is this file followed by each
-- module's src/<module>/*.sql and src/privileges.sql (see the Makefile).

\echo Use "CREATE EXTENSION chronicle" to load this file. \quit

-- Roles are cluster-wide and outlive the extension, so create them only when missing.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_reader') THEN
        CREATE ROLE chronicle_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_writer') THEN
        CREATE ROLE chronicle_writer NOLOGIN;
    END IF;
END
$roles$;
GRANT chronicle_reader TO chronicle_writer;

-- Created here, not by the control file, so that the schema is a member of
-- the extension: DROP EXTENSION removes it, and a pre-existing user schema of
-- that name is never taken over.
CREATE SCHEMA chronicle;
COMMENT ON SCHEMA chronicle IS 'chronicle: event store and nested sets';
GRANT USAGE ON SCHEMA chronicle TO PUBLIC;

CREATE FUNCTION chronicle.version() RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_version';
COMMENT ON FUNCTION chronicle.version() IS
    'The version of the chronicle shared library.';

-- Internal: exercises the C++/PostgreSQL error boundary (see src/pg/boundary.h).
CREATE FUNCTION chronicle._boundary_selftest(mode text) RETURNS int
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_selftest';
COMMENT ON FUNCTION chronicle._boundary_selftest(text) IS
    'Internal test of the C++ error boundary: raises a PostgreSQL error inside guarded C++ code, or a C++ exception out of an entry point.';

CREATE FUNCTION chronicle._boundary_counters(OUT live bigint, OUT destroyed bigint)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_counters';
COMMENT ON FUNCTION chronicle._boundary_counters() IS
    'Internal: C++ objects of the boundary self-test alive now and destroyed so far in this backend.';
