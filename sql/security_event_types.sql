-- Event types are owned (docs/design/security.md): the role that first
-- defines a type (a schema or an upcaster of it) owns it; only it or a
-- member of the owning role may redefine its schemas, add versions or
-- define its upcasters (42501 naming type and owner).  Otherwise a writer
-- could lift the validation another role relies on, or give its type an
-- upcaster that every read, replay, fold, snapshot and projection applies
-- to every event of that type, whoever appended it (stored rows unchanged,
-- so verify() would see nothing).
\set VERBOSITY sqlstate
CREATE ROLE regress_et_owner IN ROLE chronicle_writer;
CREATE ROLE regress_et_mallory IN ROLE chronicle_writer;
CREATE ROLE regress_et_team IN ROLE chronicle_writer;
CREATE ROLE regress_et_member IN ROLE chronicle_writer, regress_et_team;

SET ROLE regress_et_owner;
SELECT chronicle.define_event_type('EtDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "required": ["amount"]}');
SELECT chronicle.append('et_acct-1', 'EtDeposited', '{"amount": 10}', '{}');
-- The owner redefines its own type, adds a version and an upcaster.
SELECT chronicle.define_event_type('EtDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "required": ["amount"]}');
SELECT chronicle.define_event_type('EtDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}, "currency": {"type": "string"}}, "required": ["amount", "currency"]}', 2);
SELECT chronicle.define_upcaster('EtDeposited', 1, '{"set": {"currency": "EUR"}}');
RESET ROLE;
SELECT type, owner FROM chronicle.event_type_owners WHERE type LIKE 'Et%' ORDER BY type;

SET ROLE regress_et_mallory;
-- Each refused with 42501, the message naming the type and its owner.
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}')$$) AS redefine_v1;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}', 2)$$) AS redefine_v2;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}', 3)$$) AS add_v3;
SELECT regress.error_of($$SELECT chronicle.define_upcaster('EtDeposited', 1, '{"set": {"amount": 1000000}}')$$) AS replace_upcaster;
SELECT regress.error_of($$SELECT chronicle.define_upcaster('EtDeposited', 2, '{"set": {"amount": 1000000}}')$$) AS add_upcaster;
\set VERBOSITY default
SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}', 2);
\set VERBOSITY sqlstate
-- Also when the definition is the owner's own, unchanged.
SELECT regress.error_of($$SELECT chronicle.define_upcaster('EtDeposited', 1, '{"set": {"currency": "EUR"}}')$$) AS same_upcaster;
-- Validation stands: a negative amount is still SE003.
SELECT chronicle.append('et_acct-2', 'EtDeposited', '{"amount": -5}', '{}');
-- mallory's own new type is hers, first defined by an upcaster.
SELECT chronicle.define_upcaster('EtMallorys', 1, '{"set": {"m": 1}}');
SELECT chronicle.define_event_type('EtMallorys', '{"type": "object"}', 2);
RESET ROLE;

-- The definitions and what reads show are the owner's.
SELECT type, type_version, schema->'required' AS required FROM chronicle.event_types
 WHERE type = 'EtDeposited' ORDER BY type_version;
SELECT from_version, rules FROM chronicle.upcasters WHERE type = 'EtDeposited' ORDER BY from_version;
SELECT type_version, data FROM chronicle.read_stream('et_acct-1');
SELECT type, owner FROM chronicle.event_type_owners WHERE type LIKE 'Et%' ORDER BY type;

-- The owner may not change mallory's type either.
SET ROLE regress_et_owner;
SELECT regress.error_of($$SELECT chronicle.define_upcaster('EtMallorys', 1, '{"set": {"m": 2}}')$$) AS owner_on_mallorys;
RESET ROLE;

-- A type of a group role: a member of it defines and redefines it; its
-- owner stays the group.  Another writer may not.
SET ROLE regress_et_team;
SELECT chronicle.define_event_type('EtTeam', '{"type": "object"}');
RESET ROLE;
SET ROLE regress_et_member;
SELECT chronicle.define_event_type('EtTeam', '{"type": "object", "required": ["t"]}');
SELECT chronicle.define_event_type('EtTeam', '{"type": "object", "required": ["t", "u"]}', 2);
SELECT chronicle.define_upcaster('EtTeam', 1, '{"set": {"u": 0}}');
RESET ROLE;
SET ROLE regress_et_mallory;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtTeam', '{"type": "object"}')$$) AS mallory_on_team;
RESET ROLE;
SELECT type, owner FROM chronicle.event_type_owners WHERE type = 'EtTeam';
SELECT type_version, data FROM chronicle._upcast('EtTeam', 1, '{"t": 1}');
SELECT type_version, schema->'required' AS required FROM chronicle.event_types WHERE type = 'EtTeam' ORDER BY 1;

-- A superuser has every role's rights: it may redefine anyone's type, and
-- the owner stays.
SELECT chronicle.define_event_type('EtMallorys', '{"type": "object", "required": ["m"]}', 2);
SELECT type, owner FROM chronicle.event_type_owners WHERE type = 'EtMallorys';

-- A refused definition writes nothing, not even an owner: a failing first
-- definition (a malformed schema) leaves the type free.
SET ROLE regress_et_mallory;
SELECT regress.error_of($$SELECT chronicle.define_event_type('EtFree', '{"type": 5}')$$) AS malformed;
RESET ROLE;
SELECT count(*) AS free_owner_rows FROM chronicle.event_type_owners WHERE type = 'EtFree';

-- The owners table is readable by readers, and written by nobody but
-- chronicle's functions.
SET ROLE regress_et_mallory;
SELECT regress.error_of($$UPDATE chronicle.event_type_owners SET owner = 'regress_et_mallory' WHERE type = 'EtDeposited'$$) AS update_owner;
SELECT regress.error_of($$DELETE FROM chronicle.event_type_owners WHERE type = 'EtDeposited'$$) AS delete_owner;
SELECT regress.error_of($$INSERT INTO chronicle.event_type_owners VALUES ('EtNew', 'regress_et_mallory')$$) AS insert_owner;
SELECT count(*) AS readable FROM chronicle.event_type_owners WHERE type LIKE 'Et%';
RESET ROLE;

DELETE FROM chronicle.upcasters WHERE type LIKE 'Et%';
DELETE FROM chronicle.event_types WHERE type LIKE 'Et%';
DELETE FROM chronicle.event_type_owners WHERE type LIKE 'Et%';
DROP ROLE regress_et_member;
DROP ROLE regress_et_team;
DROP ROLE regress_et_mallory;
DROP ROLE regress_et_owner;
