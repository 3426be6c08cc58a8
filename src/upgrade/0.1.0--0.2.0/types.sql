-- chronicle 0.1.0 -> 0.2.0: event types are owned (sql/security_event_types.sql;
-- the table is src/types/tables_owners.sql, created before this file).
--
-- Every type that has a schema or an upcaster belongs to the role that owns
-- the extension: nobody recorded who defined them.  Only that role (and
-- superusers, and its members) may then change them.
INSERT INTO chronicle.event_type_owners (type, owner)
SELECT t.type, e.extowner::pg_catalog.regrole
  FROM (SELECT type FROM chronicle.event_types
        UNION
        SELECT type FROM chronicle.upcasters) t,
       pg_catalog.pg_extension e
 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle';
