-- The hostile schema, run as the low role (its owner).  Every object is
-- GENERATED from pg_catalog: for each operator, function and aggregate over
-- the types chronicle's SQL handles (int4, int8, text, numeric, uuid, jsonb,
-- bool, plus the int2/name/oid/xid8/timestamptz/bytea/arrays it meets), a
-- same-named, same-signature twin in schema hostile; polymorphic ones are
-- instantiated for each of those types (an exact match beats anyelement).
-- Each twin, when called, goes through hostile._hit(): it records the
-- caller's application_name (the suite sets it to the call path), its own
-- name and current_user in hostile.calls and as a WARNING (which survives a
-- rollback), and when current_user is not the session's login role it tries
-- ALTER ROLE <login role> SUPERUSER.  It then returns what the pg_catalog
-- original returns, so chronicle keeps working and only the log tells.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET search_path = pg_catalog, pg_temp;

CREATE TABLE hostile.calls (
    n          bigserial PRIMARY KEY,
    path       text,
    obj        text,
    role       text,
    escalation text
);
GRANT USAGE ON SCHEMA hostile TO PUBLIC;
GRANT INSERT ON hostile.calls TO PUBLIC;
GRANT USAGE ON SEQUENCE hostile.calls_n_seq TO PUBLIC;

-- What the driven paths return (under the hostile path and, for reads, again
-- under a clean one in the same session), for the checks.
CREATE TABLE hostile.results (
    n    bigserial PRIMARY KEY,
    path text NOT NULL,
    run  text NOT NULL,
    val  text
);
GRANT INSERT, SELECT ON hostile.results TO PUBLIC;
GRANT USAGE ON SEQUENCE hostile.results_n_seq TO PUBLIC;

CREATE FUNCTION hostile._hit(label text) RETURNS void
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    app text := current_setting('application_name');
    esc text := 'none';
BEGIN
    IF current_user <> session_user THEN
        BEGIN
            EXECUTE format('ALTER ROLE %I SUPERUSER', session_user);
            esc := 'ESCALATED';
        EXCEPTION WHEN OTHERS THEN
            esc := 'tried:' || SQLSTATE;
        END;
    END IF;
    RAISE WARNING 'HOSTILE-CALL path=% obj=% current_user=% escalation=%', app, label, current_user, esc;
    BEGIN
        INSERT INTO hostile.calls (path, obj, role, escalation) VALUES (app, label, current_user, esc);
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'HOSTILE-CALL-UNLOGGED path=% sqlstate=%', app, SQLSTATE;
    END;
END $$;

-- Read by the TEMP VIEWs the driving sessions create under the names of
-- chronicle's relations (gen.py, TEMP_SHADOWS): no rows, one logged call.
CREATE FUNCTION hostile.temp_probe(label text) RETURNS SETOF int
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile._hit(label); RETURN; END $$;

CREATE TABLE hostile.made (kind text, name text, signature text);
CREATE TABLE hostile.failed (kind text, name text, signature text, sqlstate text, message text);

DO $gen$
DECLARE
    -- Types whose operators and functions get twins; polymorphic ones are
    -- instantiated for the first group.
    core text[] := ARRAY['integer', 'bigint', 'text', 'numeric', 'uuid', 'jsonb', 'boolean'];
    poly text[] := ARRAY['integer', 'bigint', 'text', 'numeric', 'uuid', 'jsonb', 'boolean',
                         'xid8', 'timestamp with time zone', 'bytea'];
    extra text[] := ARRAY['smallint', 'name', 'oid', 'regclass', 'regproc', 'regprocedure', 'xid8', 'xid',
                          '"char"', 'timestamp with time zone', 'bytea', 'double precision', 'interval',
                          'integer[]', 'bigint[]', 'text[]', 'numeric[]', 'uuid[]', 'jsonb[]', 'boolean[]',
                          'name[]', 'void', 'character varying'];
    allowed text[];
    pseudo text := '\m(anyelement|anynonarray|anycompatible|anycompatiblenonarray)\M|"any"';
    r record;
    t text;
    args text;
    idargs text;
    res text;
    callargs text;
    body text;
    fname text;
    k int := 0;
    i int;
    nargs int;
BEGIN
    allowed := core || extra;

    ------------------------------------------------------------------ functions
    FOR r IN
        SELECT p.oid, p.proname, p.proretset, p.provariadic, p.pronargs, p.prokind,
               pg_get_function_arguments(p.oid) AS args,
               pg_get_function_identity_arguments(p.oid) AS idargs,
               pg_get_function_result(p.oid) AS res,
               p.proallargtypes IS NOT NULL AS has_out,
               (SELECT array_agg(format_type(a, NULL) ORDER BY o)
                  FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY x(a, o)) AS argtypes,
               format_type(p.prorettype, NULL) AS rettype
          FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND p.prokind = 'f'
         ORDER BY p.oid
    LOOP
        CONTINUE WHEN r.has_out AND NOT r.proretset;
        FOREACH t IN ARRAY CASE
                WHEN r.idargs ~ '\m(anyarray|anycompatiblearray)\M|\m(anyelement|anynonarray|anycompatible|anycompatiblenonarray)\M|"any"'
                  OR r.res ~ '\m(anyarray|anycompatiblearray|anyelement|anynonarray|anycompatible|anycompatiblenonarray)\M'
                THEN poly ELSE ARRAY[NULL::text] END
        LOOP
            args := r.args; idargs := r.idargs; res := r.res;
            IF t IS NOT NULL THEN
                args := regexp_replace(args, '\m(anyarray|anycompatiblearray)\M', t || '[]', 'g');
                args := regexp_replace(args, pseudo, t, 'g');
                idargs := regexp_replace(idargs, '\m(anyarray|anycompatiblearray)\M', t || '[]', 'g');
                idargs := regexp_replace(idargs, pseudo, t, 'g');
                res := regexp_replace(res, '\m(anyarray|anycompatiblearray)\M', t || '[]', 'g');
                res := regexp_replace(res, pseudo, t, 'g');
                -- "VARIADIC integer" (from VARIADIC "any") must be an array
                args := regexp_replace(args, 'VARIADIC ([^,]*?)(\[\])?$', 'VARIADIC \1[]');
                idargs := regexp_replace(idargs, 'VARIADIC ([^,]*?)(\[\])?$', 'VARIADIC \1[]');
            END IF;
            -- Every argument and the result must be an allowed type, and at
            -- least one argument core (or the like), or none at all.
            DECLARE
                types text[] := ARRAY(SELECT regexp_replace(regexp_replace(a, '\m(anyarray|anycompatiblearray)\M', coalesce(t, 'x') || '[]'), pseudo, coalesce(t, 'x'))
                                        FROM unnest(coalesce(r.argtypes, ARRAY[]::text[])) a);
            BEGIN
                CONTINUE WHEN EXISTS (SELECT FROM unnest(types) a WHERE NOT (a = ANY (allowed)));
                CONTINUE WHEN r.pronargs > 0 AND NOT EXISTS (
                    SELECT FROM unnest(types) a
                     WHERE a = ANY (core || ARRAY['integer[]', 'bigint[]', 'text[]', 'jsonb[]', 'xid8',
                                                  'timestamp with time zone', 'bytea', 'name', 'oid', 'regclass']));
            END;
            CONTINUE WHEN NOT r.proretset AND NOT (res = ANY (allowed));
            CONTINUE WHEN r.proretset AND NOT r.has_out
                      AND NOT (regexp_replace(res, '^SETOF ', '') = ANY (allowed));
            nargs := r.pronargs;
            callargs := '';
            FOR i IN 1 .. nargs LOOP
                callargs := callargs || CASE WHEN i > 1 THEN ', ' ELSE '' END
                            || CASE WHEN i = nargs AND r.provariadic <> 0 THEN 'VARIADIC ' ELSE '' END
                            || '$' || i;
            END LOOP;
            fname := format('%s(%s)', r.proname, idargs);
            IF r.proretset THEN
                body := format('PERFORM hostile._hit(%L); RETURN QUERY SELECT * FROM pg_catalog.%I(%s); RETURN;',
                               fname, r.proname, callargs);
            ELSIF res = 'void' THEN
                body := format('PERFORM hostile._hit(%L); PERFORM pg_catalog.%I(%s); RETURN;',
                               fname, r.proname, callargs);
            ELSE
                body := format('PERFORM hostile._hit(%L); RETURN pg_catalog.%I(%s);',
                               fname, r.proname, callargs);
            END IF;
            BEGIN
                EXECUTE format('CREATE FUNCTION hostile.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE '
                               'SET search_path = pg_catalog, pg_temp AS %L',
                               r.proname, args, res, 'BEGIN ' || body || ' END');
                INSERT INTO hostile.made VALUES ('function', r.proname, fname);
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO hostile.failed VALUES ('function', r.proname, fname, SQLSTATE, SQLERRM);
            END;
        END LOOP;
    END LOOP;

    -------------------------------------- VARIADIC "any" (format, concat, jsonb_build_object, ...)
    -- Concrete twins with one or two variadic arguments of every combination
    -- of the types above (keys text for the *_build_object ones): an exact
    -- or closer match than VARIADIC "any".
    FOR r IN
        SELECT p.proname, format_type(p.prorettype, NULL) AS res,
               coalesce((SELECT array_agg(format_type(a, NULL) ORDER BY o)
                           FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY x(a, o)
                          WHERE o < p.pronargs), ARRAY[]::text[]) AS fixed
          FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'f'
           AND p.provariadic = '"any"'::regtype
         ORDER BY p.oid
    LOOP
        FOR args IN
            SELECT CASE WHEN r.proname LIKE '%build_object' THEN 'text, ' || a ELSE a END
              FROM unnest(poly) a
            UNION ALL
            SELECT CASE WHEN r.proname LIKE '%build_object' THEN 'text, ' || a || ', text, ' || b ELSE a || ', ' || b END
              FROM unnest(poly) a, unnest(poly) b
        LOOP
            args := array_to_string(r.fixed || string_to_array(args, ', '), ', ');
            nargs := cardinality(string_to_array(args, ', '));
            callargs := (SELECT string_agg('$' || n, ', ') FROM generate_series(1, nargs) n);
            fname := format('%s(%s)', r.proname, args);
            BEGIN
                EXECUTE format('CREATE FUNCTION hostile.%I(%s) RETURNS %s LANGUAGE plpgsql VOLATILE '
                               'SET search_path = pg_catalog, pg_temp AS %L',
                               r.proname, args, r.res,
                               format('BEGIN PERFORM hostile._hit(%L); RETURN pg_catalog.%I(%s); END',
                                      fname, r.proname, callargs));
                INSERT INTO hostile.made VALUES ('function', r.proname, fname);
            EXCEPTION WHEN OTHERS THEN
                INSERT INTO hostile.failed VALUES ('function', r.proname, fname, SQLSTATE, SQLERRM);
            END;
        END LOOP;
    END LOOP;

    ------------------------------------------------------------------ operators
    FOR r IN
        SELECT o.oid, o.oprname, o.oprkind,
               CASE WHEN o.oprleft = 0 THEN NULL ELSE format_type(o.oprleft, NULL) END AS l,
               format_type(o.oprright, NULL) AS rt,
               format_type(o.oprresult, NULL) AS res
          FROM pg_operator o
         WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprcode <> 0
         ORDER BY o.oid
    LOOP
        FOREACH t IN ARRAY CASE
                WHEN concat_ws(' ', r.l, r.rt, r.res) ~ '\m(anyarray|anycompatiblearray|anyelement|anynonarray|anycompatible|anycompatiblenonarray)\M'
                THEN poly ELSE ARRAY[NULL::text] END
        LOOP
            DECLARE
                l text := r.l; rt text := r.rt; rs text := r.res;
            BEGIN
                IF t IS NOT NULL THEN
                    l := regexp_replace(regexp_replace(l, '\m(anyarray|anycompatiblearray)\M', t || '[]'), pseudo, t);
                    rt := regexp_replace(regexp_replace(rt, '\m(anyarray|anycompatiblearray)\M', t || '[]'), pseudo, t);
                    rs := regexp_replace(regexp_replace(rs, '\m(anyarray|anycompatiblearray)\M', t || '[]'), pseudo, t);
                END IF;
                CONTINUE WHEN l IS NOT NULL AND NOT (l = ANY (allowed));
                CONTINUE WHEN NOT (rt = ANY (allowed)) OR NOT (rs = ANY (allowed));
                CONTINUE WHEN NOT (coalesce(l, rt) = ANY (core || ARRAY['integer[]', 'bigint[]', 'text[]', 'jsonb[]', 'xid8', 'timestamp with time zone', 'bytea', 'name', 'oid'])
                                   OR rt = ANY (core || ARRAY['integer[]', 'bigint[]', 'text[]', 'jsonb[]', 'xid8', 'timestamp with time zone', 'bytea', 'name', 'oid']));
                k := k + 1;
                fname := format('operator %s(%s, %s)', r.oprname, coalesce(l, 'NONE'), rt);
                BEGIN
                    IF l IS NULL THEN
                        EXECUTE format('CREATE FUNCTION hostile.%I(b %s) RETURNS %s LANGUAGE plpgsql VOLATILE '
                                       'SET search_path = pg_catalog, pg_temp AS %L',
                                       '_op_' || k, rt, rs,
                                       format('BEGIN PERFORM hostile._hit(%L); RETURN OPERATOR(pg_catalog.%s) $1; END',
                                              fname, r.oprname));
                        EXECUTE format('CREATE OPERATOR hostile.%s (FUNCTION = hostile.%I, RIGHTARG = %s)',
                                       r.oprname, '_op_' || k, rt);
                    ELSE
                        EXECUTE format('CREATE FUNCTION hostile.%I(a %s, b %s) RETURNS %s LANGUAGE plpgsql VOLATILE '
                                       'SET search_path = pg_catalog, pg_temp AS %L',
                                       '_op_' || k, l, rt, rs,
                                       format('BEGIN PERFORM hostile._hit(%L); RETURN $1 OPERATOR(pg_catalog.%s) $2; END',
                                              fname, r.oprname));
                        EXECUTE format('CREATE OPERATOR hostile.%s (FUNCTION = hostile.%I, LEFTARG = %s, RIGHTARG = %s)',
                                       r.oprname, '_op_' || k, l, rt);
                    END IF;
                    INSERT INTO hostile.made VALUES ('operator', r.oprname, fname);
                EXCEPTION WHEN OTHERS THEN
                    INSERT INTO hostile.failed VALUES ('operator', r.oprname, fname, SQLSTATE, SQLERRM);
                END;
            END;
        END LOOP;
    END LOOP;

    ------------------------------------------------------------------ aggregates
    -- Emulated: the inputs are collected into an array; the final function
    -- returns the pg_catalog aggregate over them (same result, input order kept).
    FOREACH t IN ARRAY poly LOOP
        EXECUTE format('CREATE FUNCTION hostile.%I(s %s[], v %s) RETURNS %s[] LANGUAGE plpgsql VOLATILE '
                       'SET search_path = pg_catalog, pg_temp AS %L',
                       '_agg_step_' || replace(t, ' ', '_'), t, t, t,
                       format('BEGIN PERFORM hostile._hit(%L); RETURN pg_catalog.array_append($1, $2); END',
                              'aggregate step (' || t || ')'));
    END LOOP;
    FOR r IN
        SELECT p.oid, p.proname, format_type(p.proargtypes[0], NULL) AS a, pg_get_function_result(p.oid) AS res
          FROM pg_proc p JOIN pg_aggregate g ON g.aggfnoid = p.oid
         WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'a'
           AND g.aggkind = 'n' AND p.pronargs = 1
         ORDER BY p.oid
    LOOP
        FOREACH t IN ARRAY CASE WHEN r.a ~ '\m(anyelement|anynonarray|anycompatible|anycompatiblenonarray)\M|"any"'
                                  OR r.res ~ '\m(anyelement|anynonarray|anyarray)\M'
                                THEN poly ELSE ARRAY[r.a] END
        LOOP
            DECLARE
                a text := regexp_replace(r.a, pseudo, t);
                rs text := regexp_replace(regexp_replace(r.res, '\m(anyarray|anycompatiblearray)\M', t || '[]'), pseudo, t);
            BEGIN
                CONTINUE WHEN NOT (a = ANY (poly)) OR NOT (rs = ANY (allowed));
                k := k + 1;
                fname := format('aggregate %s(%s)', r.proname, a);
                BEGIN
                    EXECUTE format('CREATE FUNCTION hostile.%I(s %s[]) RETURNS %s LANGUAGE plpgsql VOLATILE '
                                   'SET search_path = pg_catalog, pg_temp AS %L',
                                   '_agg_final_' || k, a, rs,
                                   format('BEGIN PERFORM hostile._hit(%L); RETURN (SELECT pg_catalog.%I(x) FROM pg_catalog.unnest($1) x); END',
                                          fname, r.proname));
                    EXECUTE format('CREATE AGGREGATE hostile.%I(%s) (SFUNC = hostile.%I, STYPE = %s[], '
                                   'FINALFUNC = hostile.%I, INITCOND = ''{}'')',
                                   r.proname, a, '_agg_step_' || replace(a, ' ', '_'), a, '_agg_final_' || k);
                    INSERT INTO hostile.made VALUES ('aggregate', r.proname, fname);
                EXCEPTION WHEN OTHERS THEN
                    INSERT INTO hostile.failed VALUES ('aggregate', r.proname, fname, SQLSTATE, SQLERRM);
                END;
            END;
        END LOOP;
    END LOOP;
END
$gen$;

-- count(*) has no argument to collect.
CREATE FUNCTION hostile._count_star(s bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile._hit('aggregate count(*)'); RETURN s + 1; END $$;
CREATE AGGREGATE hostile.count(*) (SFUNC = hostile._count_star, STYPE = bigint, INITCOND = '0');
INSERT INTO hostile.made VALUES ('aggregate', 'count', 'aggregate count(*)');
-- string_agg(text, text): two arguments, interleaved in one array.
CREATE FUNCTION hostile._string_agg_step(s text[], v text, d text) RETURNS text[]
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM hostile._hit('aggregate string_agg(text, text) step'); RETURN s || ARRAY[v, d]; END $$;
CREATE FUNCTION hostile._string_agg_final(s text[]) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM hostile._hit('aggregate string_agg(text, text)');
    RETURN (SELECT pg_catalog.string_agg(s[2 * i - 1], s[2 * i] ORDER BY i)
              FROM pg_catalog.generate_series(1, pg_catalog.cardinality(s) / 2) i);
END $$;
CREATE AGGREGATE hostile.string_agg(text, text) (SFUNC = hostile._string_agg_step, STYPE = text[],
                                                 FINALFUNC = hostile._string_agg_final, INITCOND = '{}');
INSERT INTO hostile.made VALUES ('aggregate', 'string_agg', 'aggregate string_agg(text, text)');
