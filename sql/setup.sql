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

SELECT regress.error_of('SELECT 1') AS succeeds, regress.error_of('SELECT 1 / 0') AS fails;
