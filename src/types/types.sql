-- chronicle types: event-type schemas and upcasters (SPEC section 4).
-- Definitions live in two tables; each backend keeps them compiled in a cache
-- that a trigger on the tables invalidates everywhere (src/types/cache.h).

CREATE TABLE chronicle.event_types (
    type         text        NOT NULL,
    type_version int         NOT NULL CHECK (type_version OPERATOR(pg_catalog.>=) 1),
    schema       jsonb       NOT NULL,
    defined_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT event_types_pkey PRIMARY KEY (type, type_version)
);
COMMENT ON TABLE chronicle.event_types IS
    'JSON schemas of event types, one per (type, type_version); written by chronicle.define_event_type.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_types', '');
GRANT SELECT ON chronicle.event_types TO chronicle_reader;

CREATE TABLE chronicle.upcasters (
    type         text        NOT NULL,
    from_version int         NOT NULL CHECK (from_version OPERATOR(pg_catalog.>=) 1),
    rules        jsonb       NOT NULL,
    defined_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT upcasters_pkey PRIMARY KEY (type, from_version)
);
COMMENT ON TABLE chronicle.upcasters IS
    'Upcasters: rules turning data of (type, from_version) into from_version + 1; written by chronicle.define_upcaster.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.upcasters', '');
GRANT SELECT ON chronicle.upcasters TO chronicle_reader;

-- Internal: every change to the definitions, however made, reaches the caches.
CREATE FUNCTION chronicle._types_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_types_changed';
COMMENT ON FUNCTION chronicle._types_changed() IS
    'Internal trigger: invalidates every backend''s cache of event types and upcasters.';

-- Row triggers, so that an upsert that changes nothing invalidates nothing.
CREATE TRIGGER event_types_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.event_types
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER event_types_truncated AFTER TRUNCATE ON chronicle.event_types
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER upcasters_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.upcasters
    FOR EACH ROW EXECUTE FUNCTION chronicle._types_changed();
CREATE TRIGGER upcasters_truncated AFTER TRUNCATE ON chronicle.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._types_changed();

-- SECURITY DEFINER: writers store definitions without any privilege on the
-- tables.  The C code runs one fixed, fully qualified upsert (src/types/api.cpp).
CREATE FUNCTION chronicle.define_event_type(type text, schema jsonb, type_version int DEFAULT 1)
    RETURNS void
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_event_type';
COMMENT ON FUNCTION chronicle.define_event_type(text, jsonb, int) IS
    'Define (or replace) the JSON schema that every appended event of this type and type_version must satisfy.';
GRANT EXECUTE ON FUNCTION chronicle.define_event_type(text, jsonb, int) TO chronicle_writer;

CREATE FUNCTION chronicle.define_upcaster(type text, from_version int, rules jsonb)
    RETURNS void
    LANGUAGE c VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chronicle_define_upcaster';
COMMENT ON FUNCTION chronicle.define_upcaster(text, int, jsonb) IS
    'Define (or replace) the rules (rename, set, unset) that turn data of type at from_version into from_version + 1 when read.';
GRANT EXECUTE ON FUNCTION chronicle.define_upcaster(text, int, jsonb) TO chronicle_writer;

-- Internal test helpers: what append checks and what reads return, without an append.
CREATE FUNCTION chronicle._check_event(type text, type_version int, data jsonb)
    RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_check_event';
COMMENT ON FUNCTION chronicle._check_event(text, int, jsonb) IS
    'Internal test helper: true when data passes the schema of (type, type_version) as append checks it, else SE003.';

CREATE FUNCTION chronicle._upcast(type text, type_version int, data jsonb,
                                  OUT type_version int, OUT data jsonb)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'chronicle_upcast';
COMMENT ON FUNCTION chronicle._upcast(text, int, jsonb) IS
    'Internal test helper: data and type_version after the upcaster chain, as read functions return them.';
