-- Set-up for the regression tests, first in sql/schedule.  Every file runs
-- in the same database, so what is made here is there for all that follow.
--
-- regress.error_of(query) runs query and returns 'no error', or the error as
-- "SQLSTATE: message": a test shows the code a client would catch and goes
-- on.  Any role may call it (tests call it after SET ROLE).
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.error_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION regress.error_of(text) TO PUBLIC;

-- The same for event types, as 'valid' / 'defined' or "SQLSTATE: message":
-- regress.check(type, data [, version]) runs the check append runs
-- (chronicle._check_event); regress.define(type, schema [, version]) defines
-- a schema.
CREATE FUNCTION regress.check(type text, data jsonb, version int DEFAULT 1) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle._check_event(type, version, data);
    RETURN 'valid';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION regress.define(type text, schema jsonb, version int DEFAULT 1) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chronicle.define_event_type(type, schema, version);
    RETURN 'defined';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION regress.check(text, jsonb, int), regress.define(text, jsonb, int) TO PUBLIC;

-- regress.context_bytes(): this backend's memory contexts, in bytes (a test
-- that runs something many times shows its memory stays flat).
CREATE FUNCTION regress.context_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;

SELECT regress.error_of('SELECT 1') AS succeeds, regress.error_of('SELECT 1 / 0') AS fails;
