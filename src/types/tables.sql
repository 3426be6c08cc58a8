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

-- One row per event type ever defined (schema or upcaster): its owner, the
-- role whose definition came first.  Only it or a member of it defines the
-- type's schemas and upcasters (docs/design/security.md).
CREATE TABLE chronicle.event_type_owners (
    type  text    NOT NULL,
    owner regrole NOT NULL,
    CONSTRAINT event_type_owners_pkey PRIMARY KEY (type)
);
COMMENT ON TABLE chronicle.event_type_owners IS
    'The owner of each event type: the role that first defined a schema or an upcaster of it; only it or a member of it may define its schemas and upcasters.';
-- User data: pg_dump keeps the owners (owner is dumped as the role''s name).
-- Only rows whose owner role exists: a dropped owner's OID would be dumped
-- as a bare number, which regrole input takes as it is, so another cluster
-- would give the type to whichever role has that OID there.  Restored without
-- an owner row, such a type belongs to the extension's owner
-- (src/types/api.cpp), as it does here to superusers only.
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_type_owners',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r '
    'WHERE r.oid OPERATOR(pg_catalog.=) event_type_owners.owner::pg_catalog.oid)');
