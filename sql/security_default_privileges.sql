-- Privileges on chronicle's objects are exactly the documented ones, whatever
-- ALTER DEFAULT PRIVILEGES says when CREATE EXTENSION runs (src/privileges.sql
-- removes every grant it did not make itself, then makes the documented ones).
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS chronicle_default_privileges;
DROP ROLE IF EXISTS alice_default_privileges;
CREATE ROLE alice_default_privileges;
CREATE DATABASE chronicle_default_privileges;
\c chronicle_default_privileges
SET client_min_messages = warning;
-- Everything the creating role makes from now on is granted to alice.
ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO alice_default_privileges;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO alice_default_privileges;
ALTER DEFAULT PRIVILEGES GRANT ALL ON FUNCTIONS TO alice_default_privileges;
ALTER DEFAULT PRIVILEGES GRANT ALL ON TYPES TO alice_default_privileges;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO alice_default_privileges;
CREATE EXTENSION chronicle;

-- No object of the extension grants anything to alice, nor to PUBLIC beyond
-- USAGE on the schema, EXECUTE on _tree_maintaining() and the types' default.
WITH acls AS (
    SELECT c.oid::regclass::text AS object, c.relacl AS acl FROM pg_class c
     WHERE c.relnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT p.oid::regprocedure::text, p.proacl FROM pg_proc p
     WHERE p.pronamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT t.oid::regtype::text, t.typacl FROM pg_type t
     WHERE t.typnamespace = 'chronicle'::regnamespace
    UNION ALL
    SELECT 'schema chronicle', n.nspacl FROM pg_namespace n WHERE n.nspname = 'chronicle'
)
SELECT object, a.privilege_type,
       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee
  FROM acls, aclexplode(acls.acl) a
 WHERE a.grantee = 0 OR a.grantee = 'alice_default_privileges'::regrole
 ORDER BY 1, 2, 3;

-- Functions and procedures without an explicit ACL would be executable by
-- PUBLIC: there are none.
SELECT count(*) AS routines_with_default_acl
  FROM pg_proc WHERE pronamespace = 'chronicle'::regnamespace AND proacl IS NULL;

-- alice cannot append, read, or use the log's sequence.
SET ROLE alice_default_privileges;
\set VERBOSITY sqlstate
SELECT chronicle.append('s-1', 'T', '{}');
SELECT count(*) FROM chronicle.events;
SELECT nextval('chronicle.global_position_seq');
INSERT INTO chronicle.reducers (name, revision, rules, defined_at) VALUES ('x', 1, '{}', now());
\set VERBOSITY default
RESET ROLE;

\c :regress_db
SET client_min_messages = warning;
DROP DATABASE chronicle_default_privileges;
DROP ROLE alice_default_privileges;
