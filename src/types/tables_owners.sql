-- chronicle types, 0.2.0: who owns each event type (docs/reference/types.md,
-- "Who owns a type").  A file of its own so that the upgrade from 0.1.0
-- creates the table from this same text (the Makefile's UPGRADE_NEW).

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
-- User data: pg_dump keeps the owners (owner is dumped as the role's name).
-- Only rows whose owner role exists: a dropped owner's OID would be dumped
-- as a bare number, which regrole input takes as it is, so another cluster
-- would give the type to whichever role has that OID there.  Restored without
-- an owner row, such a type belongs to the extension's owner
-- (src/types/api.cpp), as it does here to superusers only.
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_type_owners',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r '
    'WHERE r.oid OPERATOR(pg_catalog.=) event_type_owners.owner::pg_catalog.oid)');
