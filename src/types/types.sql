-- chronicle types: the definition functions and cache triggers (data objects: tables.sql).

-- Internal: every change to the definitions, however made, reaches the caches.
CREATE OR REPLACE FUNCTION chronicle._types_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_types_changed';
COMMENT ON FUNCTION chronicle._types_changed() IS
    'Internal trigger: invalidates every backend''s cache of event types and upcasters.';

-- Row triggers, so that an upsert that changes nothing invalidates nothing.
CREATE OR REPLACE TRIGGER event_types_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.event_types
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE OR REPLACE TRIGGER event_types_truncated AFTER TRUNCATE ON chronicle.event_types
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();
CREATE OR REPLACE TRIGGER upcasters_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.upcasters
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE OR REPLACE TRIGGER upcasters_truncated AFTER TRUNCATE ON chronicle.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();

-- Not SECURITY DEFINER, so that the C code knows its caller: it checks that
-- the caller may define the type (a member of its owner's role, or the first
-- to define it), then runs its fixed, fully qualified upserts as the
-- function's owner, who owns the tables (src/types/api.cpp): writers store
-- definitions without any privilege on the tables.
CREATE OR REPLACE FUNCTION chronicle.define_event_type(type text, schema jsonb, type_version int DEFAULT 1)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_event_type';
COMMENT ON FUNCTION chronicle.define_event_type(text, jsonb, int) IS
    'Define (or replace) the JSON schema that every appended event of this type and type_version must satisfy; only the type''s owner (the role that defined it first) or a member of it may, else 42501.';

CREATE OR REPLACE FUNCTION chronicle.define_upcaster(type text, from_version int, rules jsonb)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_upcaster';
COMMENT ON FUNCTION chronicle.define_upcaster(text, int, jsonb) IS
    'Define (or replace) the rules (rename, set, unset) that turn data of type at from_version into from_version + 1 when read; only the type''s owner or a member of it may, else 42501.';

-- Internal test helpers: what append checks and what reads return, without an append.
CREATE OR REPLACE FUNCTION chronicle._check_event(type text, type_version int, data jsonb)
    RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_check_event';
COMMENT ON FUNCTION chronicle._check_event(text, int, jsonb) IS
    'Internal test helper: true when data passes the schema of (type, type_version) as append checks it, else SE003.';

CREATE OR REPLACE FUNCTION chronicle._upcast(type text, type_version int, data jsonb,
                                  OUT type_version int, OUT data jsonb)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_upcast';
COMMENT ON FUNCTION chronicle._upcast(text, int, jsonb) IS
    'Internal test helper: data and type_version after the upcaster chain, as read functions return them.';
