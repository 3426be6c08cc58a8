-- The C++/PostgreSQL error boundary (src/pg/boundary.h).
-- chronicle._boundary_selftest(mode) builds C++ objects that own heap memory,
-- then fails in the way the mode names; chronicle._boundary_counters() reports
-- how many of those objects are alive and how many were ever destroyed.
\set VERBOSITY default

SELECT chronicle.version();

-- No error: the function returns and its objects are destroyed.
SELECT chronicle._boundary_selftest('ok');
SELECT live FROM chronicle._boundary_counters();

-- A PostgreSQL error (int4in's ereport) inside guarded C++ code keeps its
-- SQLSTATE and message, and the C++ objects on the stack are destroyed.
\set VERBOSITY sqlstate
SELECT chronicle._boundary_selftest('pg_error');
\set VERBOSITY default
SELECT chronicle._boundary_selftest('pg_error');
SELECT live FROM chronicle._boundary_counters();

-- A C++ domain error leaving an entry point becomes an ereport with its own
-- SQLSTATE, message, detail and hint.
SELECT chronicle._boundary_selftest('domain_error');
\set VERBOSITY sqlstate
SELECT chronicle._boundary_selftest('domain_error');
SELECT chronicle._boundary_selftest('bad_alloc');
SELECT chronicle._boundary_selftest(NULL);
\set VERBOSITY default
SELECT live FROM chronicle._boundary_counters();

-- Thousands of errors of each kind in one backend: every error is caught with
-- its SQLSTATE, no C++ object outlives its call, and the backend's memory
-- contexts do not grow with the number of errors.
CREATE FUNCTION pg_temp.fail_many(mode text, n int) RETURNS TABLE(sqlstate text, errors int)
LANGUAGE plpgsql AS $$
DECLARE
    i int;
    state text;
BEGIN
    errors := 0;
    FOR i IN 1..n LOOP
        BEGIN
            PERFORM chronicle._boundary_selftest(mode);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
            errors := errors + 1;
        END;
    END LOOP;
    sqlstate := state;
    RETURN NEXT;
END $$;

-- Warm up caches (plpgsql, catalog) so what follows measures only the errors.
SELECT * FROM pg_temp.fail_many('pg_error', 200);
SELECT * FROM pg_temp.fail_many('domain_error', 200);
SELECT regress.context_bytes() AS before \gset
SELECT destroyed AS destroyed_before FROM chronicle._boundary_counters() \gset

SELECT * FROM pg_temp.fail_many('pg_error', 5000);
SELECT * FROM pg_temp.fail_many('domain_error', 5000);
SELECT * FROM pg_temp.fail_many('bad_alloc', 5000);

-- 15000 calls, two objects each, all destroyed; none alive.
SELECT live, destroyed - :destroyed_before AS destroyed_during_loops
FROM chronicle._boundary_counters();
-- A leak of even 100 bytes per error would be 1.5 MB here.
SELECT regress.context_bytes() - :before < 256 * 1024 AS memory_flat;

-- The backend is alive and well.
SELECT chronicle._boundary_selftest('ok') AS still_working;
