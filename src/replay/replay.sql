-- chronicle replay: reducers, replay, fold and merge_agg (data objects: tables.sql).

CREATE OR REPLACE FUNCTION chronicle.define_reducer(name text, rules jsonb, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_reducer_rules';
COMMENT ON FUNCTION chronicle.define_reducer(text, jsonb, text, int) IS
    'Define or redefine a rules reducer; returns its revision (raised only when the rules change). Malformed rules raise SE004.';

CREATE OR REPLACE FUNCTION chronicle.define_reducer(name text, fn regprocedure, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_reducer_fn';
COMMENT ON FUNCTION chronicle.define_reducer(text, regprocedure, text, int) IS
    'Define or redefine a function reducer fn(state jsonb, event chronicle.events) RETURNS jsonb; returns its revision.';

-- A literal written without a cast ('{...}') would match both forms above
-- (jsonb and regprocedure are in different type categories, so PostgreSQL
-- cannot choose); a text form makes such literals the rules form.
CREATE OR REPLACE FUNCTION chronicle.define_reducer(name text, rules text, category text DEFAULT NULL,
                                         snapshot_every int DEFAULT NULL) RETURNS int
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    parsed jsonb;
BEGIN
    BEGIN
        parsed := rules::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'invalid rules for reducer "%": the text is not JSON', name
            USING ERRCODE = 'SE004',
                  HINT = 'Pass a function reducer as a regprocedure: ''my_reducer(jsonb,chronicle.events)''::regprocedure.';
    END;
    RETURN chronicle.define_reducer(name, parsed, category, snapshot_every);
END
$$;
COMMENT ON FUNCTION chronicle.define_reducer(text, text, text, int) IS
    'The rules form of define_reducer for rules written as text or an untyped literal.';

CREATE OR REPLACE FUNCTION chronicle.replay(stream_id text, reducer text, as_of_version bigint DEFAULT NULL,
                                 as_of_time timestamptz DEFAULT NULL) RETURNS jsonb
    LANGUAGE c STABLE PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_replay';
COMMENT ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) IS
    'The state of a stream rebuilt by a reducer, up to as_of_version and/or as_of_time; NULL when no event is within the bounds.';

CREATE OR REPLACE FUNCTION chronicle._fold_step(state internal, reducer text, e chronicle.events) RETURNS internal
    LANGUAGE c PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_fold_step';
COMMENT ON FUNCTION chronicle._fold_step(internal, text, chronicle.events) IS
    'Internal: transition function of chronicle.fold.';
CREATE OR REPLACE FUNCTION chronicle._fold_final(state internal) RETURNS jsonb
    LANGUAGE c PARALLEL RESTRICTED
    AS 'MODULE_PATHNAME', 'chronicle_fold_final';
COMMENT ON FUNCTION chronicle._fold_final(internal) IS
    'Internal: final function of chronicle.fold (serialises the state once per group).';
CREATE OR REPLACE AGGREGATE chronicle.fold(reducer text, e chronicle.events) (
    SFUNC = chronicle._fold_step,
    STYPE = internal,
    FINALFUNC = chronicle._fold_final,
    FINALFUNC_MODIFY = READ_ONLY
);
COMMENT ON AGGREGATE chronicle.fold(text, chronicle.events) IS
    'Fold events into state with a reducer; use ORDER BY version inside the call.';

CREATE OR REPLACE FUNCTION chronicle._merge_step(state internal, data jsonb) RETURNS internal
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_merge_step';
COMMENT ON FUNCTION chronicle._merge_step(internal, jsonb) IS
    'Internal: transition function of chronicle.merge_agg.';
CREATE OR REPLACE FUNCTION chronicle._merge_final(state internal) RETURNS jsonb
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_merge_final';
COMMENT ON FUNCTION chronicle._merge_final(internal) IS
    'Internal: final function of chronicle.merge_agg.';
CREATE OR REPLACE AGGREGATE chronicle.merge_agg(data jsonb) (
    SFUNC = chronicle._merge_step,
    STYPE = internal,
    FINALFUNC = chronicle._merge_final,
    FINALFUNC_MODIFY = READ_ONLY
);
COMMENT ON AGGREGATE chronicle.merge_agg(jsonb) IS
    'RFC 7396 merge-patch fold: each value patches the result of the previous ones (null members remove keys); use ORDER BY.';
