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

-- regress.content(data, metadata) and regress.link(prev, e): the hash chain's
-- canonical encoding (docs/design/event-store.md), recomputed in SQL so that
-- the tests hold the C code to the documented bytes.  e is a chronicle.events
-- row, taken as anyelement because the extension does not exist yet here (and
-- extension.sql drops it): a SQL function with a polymorphic argument is
-- parsed at its call, against the row type it is given.
CREATE FUNCTION regress.content(data jsonb, metadata jsonb) RETURNS bytea
LANGUAGE sql AS $$
SELECT sha256(int4send(octet_length(convert_to(data::text, 'UTF8'))) || convert_to(data::text, 'UTF8') ||
              int4send(octet_length(convert_to(metadata::text, 'UTF8'))) || convert_to(metadata::text, 'UTF8'))
$$;
CREATE FUNCTION regress.link(prev bytea, e anyelement) RETURNS bytea
LANGUAGE sql AS $$
SELECT sha256(coalesce(prev, '')
    || int4send(octet_length(e.stream_id)) || convert_to(e.stream_id, 'UTF8')
    || int8send(e.version) || int8send(e.global_position) || uuid_send(e.event_id)
    || int4send(octet_length(e.type)) || convert_to(e.type, 'UTF8') || int4send(e.type_version)
    || int8send((extract(epoch FROM e.recorded_at - '2000-01-01 00:00:00+00') * 1000000)::bigint)
    || int8send(e.tx_id::text::numeric::bigint) || int4send(cardinality(e.tags))
    || coalesce((SELECT string_agg(int4send(octet_length(t)) || convert_to(t, 'UTF8'), ''::bytea ORDER BY n)
                   FROM unnest(e.tags) WITH ORDINALITY AS u(t, n)), ''::bytea)
    || coalesce(nullif(e.original_digest, '\x'), regress.content(e.data, e.metadata)))
$$;
GRANT EXECUTE ON FUNCTION regress.content(jsonb, jsonb), regress.link(bytea, anyelement) TO PUBLIC;
