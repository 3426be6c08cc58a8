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
SELECT pg_catalog.pg_extension_config_dump('chronicle.event_type_owners', '');
INSERT INTO chronicle.event_type_owners (type, owner)
SELECT t.type, e.extowner::pg_catalog.regrole
  FROM (SELECT type FROM chronicle.event_types
        UNION
        SELECT type FROM chronicle.upcasters) t,
       pg_catalog.pg_extension e
 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle';
