-- chronicle erasure: redaction and ledger digests (docs/design/erasure.md,
-- docs/design/erasure.md).  Written in C++; every statement they run names
-- its objects qualified.  redact and redact_tagged write with the
-- extension owner's rights, like append; only chronicle_admin may call them
-- (src/privileges.sql).

CREATE OR REPLACE FUNCTION chronicle.redact(stream_id text, version bigint DEFAULT NULL,
                                            paths text[] DEFAULT NULL, reason text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_redact';
COMMENT ON FUNCTION chronicle.redact(text, bigint, text[], text) IS
    'Erase JSON paths ("a.b", from data and metadata; NULL: the schema''s "x-personal" properties, or everything when the type has no schema) from one event of a stream (or every event when version is NULL); appends a receipt to stream chronicle-erasures; returns the events changed. chronicle_admin only.';

CREATE OR REPLACE FUNCTION chronicle.redact_tagged(tag text, paths text[] DEFAULT NULL,
                                                   reason text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_redact_tagged';
COMMENT ON FUNCTION chronicle.redact_tagged(text, text[], text) IS
    'chronicle.redact for every event carrying the tag (e.g. a data subject''s events across streams); returns the events changed. chronicle_admin only.';

CREATE OR REPLACE FUNCTION chronicle.digest()
    RETURNS jsonb
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_digest';
COMMENT ON FUNCTION chronicle.digest() IS
    'A digest of the whole log as of now: {"position", "global_position", "streams", "events", "root"}; recorded in chronicle.digests (not on a hot standby). Keep it outside the database.';

CREATE OR REPLACE FUNCTION chronicle.verify_digest(digest jsonb)
    RETURNS TABLE(stream_id text, version bigint, problem text)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_verify_digest';
COMMENT ON FUNCTION chronicle.verify_digest(jsonb) IS
    'Recompute a digest''s root from the log as of its position; one row per stream whose history up to there was changed, shortened or removed. No rows: the log still extends the digest.';

-- verify() with the redacted events listed: a redacted event verifies as
-- intact (its link commits to its original_digest, and its content is what
-- its receipt says the redaction left), so on request it is named, with what
-- was removed (chronicle.erasures).  The listing is PL/pgSQL
-- (_verify_redacted): Citus cannot plan a SQL function's statement over
-- distributed tables with parameters, and a PL/pgSQL function cannot have an
-- argument and a result column of one name (stream_id, here).
CREATE OR REPLACE FUNCTION chronicle._verify_redacted(stream text, list boolean)
    RETURNS TABLE(sid text, ver bigint, what text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF list IS NOT TRUE THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT e.stream_id, e.version,
           'redacted (not a problem): ' || CASE WHEN r.stream_id IS NULL THEN 'no row in chronicle.erasures'
                                                ELSE coalesce('removed ' || array_to_string(r.paths, ', '),
                                                              'all of data and metadata removed') END
      FROM chronicle.events e LEFT JOIN chronicle.erasures r ON r.stream_id = e.stream_id AND r.version = e.version
     WHERE e.original_digest <> '\x'::bytea AND (stream IS NULL OR e.stream_id = stream);
END
$$;
COMMENT ON FUNCTION chronicle._verify_redacted(text, boolean) IS
    'Internal (verify(stream_id, list_redacted)): the redacted events of a stream (NULL: all), with what was removed.';

CREATE OR REPLACE FUNCTION chronicle.verify(stream_id text, list_redacted boolean)
    RETURNS TABLE(stream_id text, version bigint, problem text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT v.stream_id, v.version, v.problem FROM chronicle.verify($1) v
    UNION ALL
    SELECT r.sid, r.ver, r.what FROM chronicle._verify_redacted($1, $2) r
     ORDER BY 1, 2, 3
$$;
COMMENT ON FUNCTION chronicle.verify(text, boolean) IS
    'verify(stream_id), and with list_redacted also one row per redacted event (intact, named with the paths removed).';
