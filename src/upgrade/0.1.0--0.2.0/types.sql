-- chronicle 0.1.0 -> 0.2.0: event types are owned (sql/security_event_types.sql).
--
-- Every type that has a schema or an upcaster belongs to the role that owns
-- the extension: nobody recorded who defined them.  Only that role (and
-- superusers, and its members) may then change them.
CREATE TABLE chronicle.event_type_owners (
    type  text    NOT NULL,
    owner regrole NOT NULL,
    CONSTRAINT event_type_owners_pkey PRIMARY KEY (type)
);
COMMENT ON TABLE chronicle.event_type_owners IS
    'The owner of each event type: the role that first defined a schema or an upcaster of it; only it or a member of it may define its schemas and upcasters.';
-- Only rows whose owner role exists: a dropped owner's OID would be dumped
-- as a bare number, which regrole input takes as it is, so another cluster
-- would give the type to whichever role has that OID there.  Restored without
-- an owner row, such a type belongs to the extension's owner
-- (src/types/api.cpp), as it does here to superusers only.
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_type_owners',
    'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r '
    'WHERE r.oid OPERATOR(pg_catalog.=) event_type_owners.owner::pg_catalog.oid)');
INSERT INTO chronicle.event_type_owners (type, owner)
SELECT t.type, e.extowner::pg_catalog.regrole
  FROM (SELECT type FROM chronicle.event_types
        UNION
        SELECT type FROM chronicle.upcasters) t,
       pg_catalog.pg_extension e
 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle';
