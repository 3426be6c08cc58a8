-- Superuser's side (run as the bootstrap superuser, in the suite's own
-- database; roles sec_low and sec_mallory exist): objects the low roles can
-- reach, all owned by the superuser.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION chronicle;
GRANT chronicle_writer TO sec_low;

-- Schemas: shop (superuser's, the low roles may use it), mirror (the
-- superuser's clean reference copies of the tree tables), lowsch (the low
-- writer's own), hostile (the low writer's; filled by hostile.sql).
CREATE SCHEMA shop;
CREATE SCHEMA mirror;
CREATE SCHEMA lowsch AUTHORIZATION sec_low;
CREATE SCHEMA hostile AUTHORIZATION sec_low;
GRANT USAGE ON SCHEMA shop TO sec_low, sec_mallory;

-- Tree tables: every id type chronicle's SQL compares, scope and order
-- column variants, each on_delete mode; one set per low role (low_*, mal_*)
-- in shop, the same in mirror; SELECT/INSERT/UPDATE/DELETE to the low roles.
-- ro_* tables: SELECT only.
CREATE TABLE shop.tree_variants (name text, idtype text, scope text, ord text, on_delete text);
INSERT INTO shop.tree_variants VALUES
    ('t_int',    'int4',    NULL,     NULL,  'cascade'),
    ('t_big',    'int8',    NULL,     NULL,  'promote'),
    ('t_text',   'text',    NULL,     NULL,  'restrict'),
    ('t_num',    'numeric', NULL,     'int4', 'cascade'),
    ('t_uuid',   'uuid',    'text',   NULL,  'promote'),
    ('t_scoped', 'int8',    'int4',   'numeric', 'restrict'),
    ('t_sctext', 'text',    'text',   'int8', 'cascade');
DO $$
DECLARE
    v record;
    s text;
    p text;
    tbl text;
BEGIN
    FOR v IN SELECT * FROM shop.tree_variants LOOP
        FOREACH s IN ARRAY ARRAY['shop', 'mirror'] LOOP
            FOREACH p IN ARRAY ARRAY['low', 'mal', 'ro'] LOOP
                tbl := format('%I.%I', s, p || '_' || v.name);
                EXECUTE format('CREATE TABLE %s (id %s PRIMARY KEY, parent_id %s, name text%s%s)',
                               tbl, v.idtype, v.idtype,
                               CASE WHEN v.scope IS NOT NULL THEN ', tenant ' || v.scope END,
                               CASE WHEN v.ord IS NOT NULL THEN ', pos ' || v.ord END);
                PERFORM chronicle.tree_attach(tbl::regclass, scope_column => CASE WHEN v.scope IS NOT NULL THEN 'tenant' END,
                                              order_column => CASE WHEN v.ord IS NOT NULL THEN 'pos' END,
                                              on_delete => v.on_delete);
                IF s = 'shop' AND p = 'ro' THEN
                    EXECUTE format('GRANT SELECT ON %s TO sec_low, sec_mallory', tbl);
                ELSIF s = 'shop' THEN
                    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO sec_low, sec_mallory', tbl);
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
END $$;
-- The README's category tree, for mallory (plain INSERTs only).
CREATE TABLE shop.seed (id int PRIMARY KEY, parent_id int REFERENCES shop.seed, name text);
SELECT chronicle.tree_attach('shop.seed');
GRANT SELECT, INSERT ON shop.seed TO sec_mallory;

-- Event store: types with schemas, an upcaster, the README's bank account as a
-- rules reducer with snapshot_every on category acct, a function reducer
-- (written unqualified, as a careless superuser would) with snapshot_every,
-- projections on both and a subscription on the category.
SELECT chronicle.define_event_type('AccountOpened', '{"type": "object", "required": ["AccountNumber", "Owner"],
    "properties": {"AccountNumber": {"type": "integer", "minimum": 1}, "Owner": {"type": "string", "minLength": 1, "maxLength": 64},
                   "InitialBalance": {"type": "number"}}}');
SELECT chronicle.define_event_type('DepositMade', '{"type": "object", "required": ["Amount"],
    "properties": {"Amount": {"type": "number", "exclusiveMinimum": 0}, "Ref": {"type": "string", "format": "uuid"},
                   "By": {"type": "string", "pattern": "^[A-Za-z ]+$", "enum": ["John Doe", "Jane Roe"]}}}');
SELECT chronicle.define_event_type('WithdrawalMade', '{"type": "object", "required": ["Amount"],
    "properties": {"Amount": {"type": "number", "minimum": 0}, "On": {"type": "string", "format": "date"},
                   "Mail": {"type": "string", "format": "email"}}, "additionalProperties": true}');
SELECT chronicle.define_event_type('Renamed', '{"type": "object", "required": ["old"], "properties": {"old": {"type": "string"}}}', 1);
SELECT chronicle.define_event_type('Renamed', '{"type": "object", "required": ["new"], "properties": {"new": {"type": "string"}}}', 2);
SELECT chronicle.define_upcaster('Renamed', 1, '{"rename": {"old": "new"}, "set": {"upcast": true}, "unset": ["junk"]}');

SELECT chronicle.define_reducer('su_rules', '{
  "AccountOpened":  {"set": {"number": "$.AccountNumber", "owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}},
  "Renamed":        {"set": {"name": "$.new"}}
}'::jsonb, category => 'acct', snapshot_every => 2);
CREATE FUNCTION public.su_count(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('n', coalesce((state ->> 'n')::int, 0) + 1,
                              'last', lower(e.type), 'big', e.version > 1);
END $$;
SELECT chronicle.define_reducer('su_fn', 'public.su_count(jsonb, chronicle.events)'::regprocedure,
                                category => 'acct', snapshot_every => 2);
SELECT chronicle.define_projection('su_proj', 'su_rules', 'shop.acct_proj',
                                   '{"owner": "text", "balance": "numeric", "number": "int"}');
SELECT chronicle.define_projection('su_proj_fn', 'su_fn', 'shop.acct_count', '{"n": "int"}');
SELECT chronicle.subscribe('su_sub', 'acct');
GRANT SELECT ON shop.acct_proj, shop.acct_count TO sec_low;

-- The control for escalation: the classic mistake, a superuser's SECURITY
-- DEFINER function without a pinned search_path.  Calling it under the
-- hostile path must escalate (proving the suite sees an escalation).
CREATE FUNCTION public.careless_definer(a int) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN RETURN a = 1; END $$;
GRANT EXECUTE ON FUNCTION public.careless_definer(int) TO sec_low;

-- Rows in the read-only tables: a root 1 and its child 2.
DO $$
DECLARE
    v record;
    tbl text;
    one text;
    two text;
BEGIN
    FOR v IN SELECT * FROM shop.tree_variants LOOP
        one := CASE v.idtype WHEN 'text' THEN 'n1' WHEN 'numeric' THEN '1.5'
                             WHEN 'uuid' THEN '00000000-0000-0000-0000-000000000001' ELSE '1' END;
        two := CASE v.idtype WHEN 'text' THEN 'n2' WHEN 'numeric' THEN '2.5'
                             WHEN 'uuid' THEN '00000000-0000-0000-0000-000000000002' ELSE '2' END;
        tbl := format('shop.%I', 'ro_' || v.name);
        EXECUTE format('INSERT INTO %s (id, parent_id, name%s) VALUES (%L, NULL, ''r''%s), (%L, %L, ''c''%s)',
                       tbl, CASE WHEN v.scope IS NOT NULL THEN ', tenant' ELSE '' END,
                       one, CASE WHEN v.scope = 'text' THEN ', ''s1''' WHEN v.scope IS NOT NULL THEN ', 1' ELSE '' END,
                       two, one, CASE WHEN v.scope = 'text' THEN ', ''s1''' WHEN v.scope IS NOT NULL THEN ', 1' ELSE '' END);
    END LOOP;
END $$;

-- The suite's own helpers (the superuser's, called only under a clean path).
-- Every role's attributes and memberships, to compare after each phase.
CREATE TABLE public.role_baseline AS
    SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
           rolbypassrls, rolconnlimit, rolvaliduntil FROM pg_roles;
CREATE TABLE public.member_baseline AS
    SELECT roleid::regrole::text AS role, member::regrole::text AS member, admin_option FROM pg_auth_members;
CREATE FUNCTION public.roles_diff() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(d, '; '), '') FROM (
        (SELECT 'now ' || r::text AS d FROM (SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil FROM pg_roles
                EXCEPT SELECT * FROM public.role_baseline) r)
        UNION ALL
        (SELECT 'was ' || r::text FROM (SELECT * FROM public.role_baseline EXCEPT
                SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                       rolbypassrls, rolconnlimit, rolvaliduntil FROM pg_roles) r)
        UNION ALL
        (SELECT 'member now ' || m::text FROM (SELECT roleid::regrole::text, member::regrole::text, admin_option
                FROM pg_auth_members EXCEPT SELECT * FROM public.member_baseline) m)
        UNION ALL
        (SELECT 'member was ' || m::text FROM (SELECT * FROM public.member_baseline EXCEPT
                SELECT roleid::regrole::text, member::regrole::text, admin_option FROM pg_auth_members) m)) x
$$;
-- Put the low roles back as they were (after a phase that escalated them),
-- so that each phase is judged on its own.
CREATE FUNCTION public.roles_reset() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    b record;
BEGIN
    FOR b IN SELECT * FROM public.role_baseline WHERE rolname IN ('sec_low', 'sec_mallory') LOOP
        EXECUTE format('ALTER ROLE %I %s %s %s %s %s', b.rolname,
                       CASE WHEN b.rolsuper THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END,
                       CASE WHEN b.rolcreaterole THEN 'CREATEROLE' ELSE 'NOCREATEROLE' END,
                       CASE WHEN b.rolcreatedb THEN 'CREATEDB' ELSE 'NOCREATEDB' END,
                       CASE WHEN b.rolreplication THEN 'REPLICATION' ELSE 'NOREPLICATION' END,
                       CASE WHEN b.rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END);
    END LOOP;
END $$;
-- A tree table against its clean mirror: same rows and numbering, valid.
CREATE FUNCTION public.compare_tree(a regclass, b regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    diff bigint;
    n bigint;
    bad bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((SELECT to_jsonb(t) FROM %s t EXCEPT SELECT to_jsonb(m) FROM %s m)
                    UNION ALL (SELECT to_jsonb(m) FROM %s m EXCEPT SELECT to_jsonb(t) FROM %s t)) d', a, b, b, a) INTO diff;
    EXECUTE format('SELECT count(*) FROM %s', a) INTO n;
    BEGIN
        SELECT count(*) INTO bad FROM chronicle.tree_validate(a);
    EXCEPTION WHEN OTHERS THEN
        RETURN format('FAIL tree_validate(%s): %s %s', a, SQLSTATE, SQLERRM);
    END;
    IF diff = 0 AND bad = 0 AND n > 0 THEN
        RETURN 'ok ' || n || ' rows';
    END IF;
    RETURN format('FAIL %s rows, %s differ from %s, tree_validate reports %s problem(s)', n, diff, b, bad);
END $$;
