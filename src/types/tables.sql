-- chronicle types: event-type schemas and upcasters (docs/reference/types.md).
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
