-- chronicle.strict_types, definitions in transactions, and privileges.
-- regress.check (sql/setup.sql) runs append's check: 'valid', or the error.

-- chronicle.strict_types (a user-settable boolean, default off) rejects
-- events whose type has no schema for their type_version.  Like every
-- setting of an extension library, it is known once the library is loaded
-- (by the first chronicle function a session calls); SET works before that.
SELECT chronicle.version() IS NOT NULL AS loaded;
SHOW chronicle.strict_types;
SELECT name, setting, context, vartype FROM pg_settings WHERE name = 'chronicle.strict_types';
SELECT chronicle.define_event_type('s_typed', '{"required": ["id"]}');

SELECT regress.check('s_untyped', '{}') AS untyped, regress.check('s_typed', '{"id": 1}', 2) AS other_version;
SET chronicle.strict_types = on;
SELECT regress.check('s_untyped', '{}') AS untyped, regress.check('s_typed', '{"id": 1}', 2) AS other_version,
       regress.check('s_typed', '{"id": 1}') AS typed, regress.check('s_typed', '{}') AS typed_bad;
\set SHOW_CONTEXT never
SELECT chronicle._check_event('s_untyped', 1, '{}');
\set VERBOSITY default
-- Defining the schema is enough.
SELECT chronicle.define_event_type('s_untyped', '{}');
SELECT regress.check('s_untyped', '{"x": 1}');
RESET chronicle.strict_types;
SET chronicle.strict_types = 'perhaps';

-- Definitions are transactional.  A definition rolled back is forgotten,
-- also by this session's cache, which had already used it.
BEGIN;
SELECT chronicle.define_event_type('s_tx', '{"required": ["a"]}');
SELECT regress.check('s_tx', '{}') AS inside;
ROLLBACK;
SELECT regress.check('s_tx', '{}') AS after_rollback,
       (SELECT count(*) FROM chronicle.event_types WHERE type = 's_tx') AS stored;

BEGIN;
SELECT chronicle.define_event_type('s_tx', '{"required": ["a"]}');
SAVEPOINT sp;
SELECT chronicle.define_event_type('s_tx', '{"required": ["b"]}');
SELECT regress.check('s_tx', '{"a": 1}') AS redefined_in_savepoint;
ROLLBACK TO SAVEPOINT sp;
SELECT regress.check('s_tx', '{"a": 1}') AS after_rollback_to_savepoint;
COMMIT;
SELECT regress.check('s_tx', '{}') AS committed;

-- A prepared definition is not in force until COMMIT PREPARED, and never
-- after ROLLBACK PREPARED.
BEGIN;
SELECT chronicle.define_event_type('s_tx', '{"required": ["p"]}');
SELECT regress.check('s_tx', '{"a": 1}') AS before_prepare;
PREPARE TRANSACTION 'types_strict_p1';
SELECT regress.check('s_tx', '{"a": 1}') AS prepared;
ROLLBACK PREPARED 'types_strict_p1';
SELECT regress.check('s_tx', '{"a": 1}') AS rolled_back;
BEGIN;
SELECT chronicle.define_event_type('s_tx', '{"required": ["p"]}');
PREPARE TRANSACTION 'types_strict_p2';
COMMIT PREPARED 'types_strict_p2';
SELECT regress.check('s_tx', '{"a": 1}') AS committed_prepared;

-- The owner editing the table directly is noticed as well (a trigger on the
-- tables invalidates every session's cache).
DELETE FROM chronicle.event_types WHERE type = 's_tx';
SELECT regress.check('s_tx', '{}') AS after_delete;
INSERT INTO chronicle.event_types (type, type_version, schema) VALUES ('s_tx', 1, '{"type": "array"}');
SELECT regress.check('s_tx', '{}') AS after_insert;

-- Privileges: define functions are for chronicle_writer, and run with the
-- owner's rights: the writer needs (and has) no write access to the tables.
CREATE ROLE types_test_writer IN ROLE chronicle_writer;
CREATE ROLE types_test_reader IN ROLE chronicle_reader;
CREATE ROLE types_test_nobody;
SET ROLE types_test_writer;
SELECT chronicle.define_event_type('s_by_writer', '{"type": "object"}');
SELECT chronicle.define_upcaster('s_by_writer', 1, '{"set": {"by": "writer"}}');
SELECT type, type_version FROM chronicle.event_types WHERE type = 's_by_writer';
INSERT INTO chronicle.event_types (type, type_version, schema) VALUES ('s_sneaky', 1, '{}');
DELETE FROM chronicle.upcasters;
SET ROLE types_test_reader;
SELECT count(*) FROM chronicle.upcasters WHERE type = 's_by_writer';
SELECT chronicle.define_event_type('s_by_reader', '{}');
SET ROLE types_test_nobody;
SELECT chronicle.define_upcaster('s_by_nobody', 1, '{}');
RESET ROLE;
-- The cache is read with the tables' owner's rights: a role that may run a
-- function checking events needs no privilege on the definitions.
GRANT EXECUTE ON FUNCTION chronicle._check_event(text, int, jsonb) TO types_test_nobody;
SELECT chronicle.define_event_type('s_by_writer', '{"type": "object", "required": ["id"]}');
SET ROLE types_test_nobody;
SELECT has_table_privilege('chronicle.event_types', 'SELECT') AS may_select;
SELECT chronicle._check_event('s_by_writer', 1, '{"id": 1}');
SELECT chronicle._check_event('s_by_writer', 1, '{}');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION chronicle._check_event(text, int, jsonb) FROM types_test_nobody;
-- The definitions belong to the extension owner's tables, whoever made them.
SELECT has_table_privilege('chronicle_writer', 'chronicle.event_types', 'INSERT') AS writer_may_insert,
       has_table_privilege('chronicle_reader', 'chronicle.event_types', 'SELECT') AS reader_may_select,
       has_function_privilege('chronicle_reader', 'chronicle.define_event_type(text, jsonb, int)', 'EXECUTE')
           AS reader_may_define,
       has_function_privilege('public', 'chronicle._check_event(text, int, jsonb)', 'EXECUTE') AS public_may_check;
DROP ROLE types_test_writer, types_test_reader, types_test_nobody;
