-- chronicle: the extension's base: roles, version() and the boundary self-test.
-- Re-runnable: it is part of the install script and of every upgrade script.

-- Roles are cluster-wide and outlive the extension, so create them only when missing.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_reader') THEN
        CREATE ROLE chronicle_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_writer') THEN
        CREATE ROLE chronicle_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_subscriber') THEN
        CREATE ROLE chronicle_subscriber NOLOGIN;
    END IF;
    -- May redact (docs/reference/events.md); granted to nobody by chronicle.
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'chronicle_admin') THEN
        CREATE ROLE chronicle_admin NOLOGIN;
    END IF;
END
$roles$;

CREATE OR REPLACE FUNCTION chronicle.version() RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_version';
COMMENT ON FUNCTION chronicle.version() IS
    'The version of the chronicle shared library.';

-- Internal: exercises the C++/PostgreSQL error boundary (see src/pg/boundary.h).
CREATE OR REPLACE FUNCTION chronicle._boundary_selftest(mode text) RETURNS int
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_selftest';
COMMENT ON FUNCTION chronicle._boundary_selftest(text) IS
    'Internal test of the C++ error boundary: raises a PostgreSQL error inside guarded C++ code, or a C++ exception out of an entry point.';

CREATE OR REPLACE FUNCTION chronicle._boundary_counters(OUT live bigint, OUT destroyed bigint)
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_boundary_counters';
COMMENT ON FUNCTION chronicle._boundary_counters() IS
    'Internal: C++ objects of the boundary self-test alive now and destroyed so far in this backend.';
