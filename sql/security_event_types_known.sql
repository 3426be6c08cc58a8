-- KNOWN, not in sql/schedule (design-level; see the review-security report).
-- Event types and upcasters are not owned: any chronicle_writer may redefine
-- the schema another role gave a type, define further versions of it, and
-- give it an upcaster, which every read, replay, fold, snapshot and
-- projection then applies to every event of that type, whoever appended it.
-- A writer so rewrites what every reader is shown of another role's history
-- (stored rows unchanged, so verify() sees nothing), and lifts the
-- validation another role relies on.  As for reducers (security_reducers),
-- the definer should own a type: only it or a member of the owning role may
-- redefine its schema, add a version or an upcaster (42501); the rows and
-- what reads show must stay as the owner made them.
-- Run it alone: make test REGRESS="setup security_event_types_known" ISOLATION= SUITES=none
\set VERBOSITY sqlstate
CREATE ROLE regress_et_owner IN ROLE chronicle_writer;
CREATE ROLE regress_et_mallory IN ROLE chronicle_writer;

SET ROLE regress_et_owner;
SELECT chronicle.define_event_type('EtDeposited',
    '{"type": "object", "properties": {"amount": {"type": "number", "minimum": 0}}, "required": ["amount"]}');
SELECT chronicle.append('et_acct-1', 'EtDeposited', '{"amount": 10}', '{}');
RESET ROLE;

SET ROLE regress_et_mallory;
-- Each refused with 42501.
SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}');
SELECT chronicle.define_event_type('EtDeposited', '{"type": "object"}', 2);
SELECT chronicle.define_upcaster('EtDeposited', 1, '{"set": {"amount": 1000000}}');
-- Validation stands: a negative amount is still SE003.
SELECT chronicle.append('et_acct-2', 'EtDeposited', '{"amount": -5}', '{}');
RESET ROLE;

-- The definitions and what reads show are the owner's.
SELECT type, type_version, schema->'required' AS required FROM chronicle.event_types
 WHERE type = 'EtDeposited' ORDER BY type_version;
SELECT count(*) AS upcasters FROM chronicle.upcasters WHERE type = 'EtDeposited';
SELECT type_version, data FROM chronicle.read_stream('et_acct-1');
DROP ROLE regress_et_mallory;
DROP ROLE regress_et_owner;
