-- A type that has definitions but no row in chronicle.event_type_owners is
-- not free to the first writer who asks: it belongs to the extension's
-- owner, as the types of a database upgraded from 0.1.0 do.  Such a type
-- is what a pg_restore leaves when the COPY of event_type_owners fails (one
-- owner's role missing on the target fails the whole COPY, so every row is
-- lost), or a hand edit of the tables.
\set VERBOSITY sqlstate
CREATE ROLE regress_etu_owner IN ROLE chronicle_writer;
CREATE ROLE regress_etu_mallory IN ROLE chronicle_writer;

SET ROLE regress_etu_owner;
SELECT chronicle.define_event_type('EtuDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "required": ["amount"]}');
SELECT chronicle.define_upcaster('EtuOnlyUpcast', 1, '{"set": {"u": 1}}');
RESET ROLE;

-- The restore of the owners: a row naming a role the target lacks fails the
-- whole COPY, and no owner is restored.
DELETE FROM chronicle.event_type_owners WHERE type LIKE 'Etu%';
SELECT regress.error_of($$COPY chronicle.event_type_owners (type, owner) FROM PROGRAM
    'printf "EtuDeposited\tregress_etu_owner\nEtuOnlyUpcast\tregress_etu_gone\n"'$$) AS copy_owners;
SELECT count(*) AS owner_rows FROM chronicle.event_type_owners WHERE type LIKE 'Etu%';

-- mallory may not claim them (schema or upcaster, either type), and writes
-- nothing.
SET ROLE regress_etu_mallory;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtuDeposited', '{"type": "object"}')$$) ~ '^42501: event type "EtuDeposited" is owned by role ' AS refused_schema;
SELECT regress.error_of($$SELECT chronicle.define_upcaster('EtuDeposited', 1, '{"set": {"amount": 1000000}}')$$) ~ '^42501: ' AS refused_upcaster;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtuOnlyUpcast', '{"type": "object"}', 2)$$) ~ '^42501: ' AS refused_upcast_type;
RESET ROLE;
SELECT count(*) AS owner_rows FROM chronicle.event_type_owners WHERE type LIKE 'Etu%';
SELECT type_version, schema->'required' AS required FROM chronicle.event_types WHERE type LIKE 'Etu%' ORDER BY 1;
SELECT from_version, rules FROM chronicle.upcasters WHERE type LIKE 'Etu%' ORDER BY 1;

-- Its first definition since (by the extension's owner, or a superuser)
-- records the extension's owner, not the former definer.
SELECT chronicle.define_event_type('EtuDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "required": ["amount"]}');
SELECT o.type, o.owner::oid = e.extowner AS extension_owner
  FROM chronicle.event_type_owners o, pg_extension e
 WHERE e.extname = 'chronicle' AND o.type LIKE 'Etu%' ORDER BY 1;
-- A new type is still its first definer's.
SET ROLE regress_etu_mallory;
SELECT chronicle.define_event_type('EtuMallorys', '{"type": "object"}');
RESET ROLE;
SELECT type, owner FROM chronicle.event_type_owners WHERE type = 'EtuMallorys';

-- An unchanged definition rewrites nothing, not even the owner's row (it is
-- locked, not updated).
SELECT xmin AS owner_xmin FROM chronicle.event_type_owners WHERE type = 'EtuMallorys' \gset
SELECT xmin AS schema_xmin FROM chronicle.event_types WHERE type = 'EtuMallorys' \gset
SET ROLE regress_etu_mallory;
SELECT chronicle.define_event_type('EtuMallorys', '{"type": "object"}');
RESET ROLE;
SELECT (SELECT xmin = :'owner_xmin' FROM chronicle.event_type_owners WHERE type = 'EtuMallorys') AS owner_row_unchanged,
       (SELECT xmin = :'schema_xmin' FROM chronicle.event_types WHERE type = 'EtuMallorys') AS schema_row_unchanged;

DELETE FROM chronicle.upcasters WHERE type LIKE 'Etu%';
DELETE FROM chronicle.event_types WHERE type LIKE 'Etu%';
DELETE FROM chronicle.event_type_owners WHERE type LIKE 'Etu%';
DROP ROLE regress_etu_mallory;
DROP ROLE regress_etu_owner;
