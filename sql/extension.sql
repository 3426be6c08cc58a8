-- The shape of the installation.

-- The extension is not relocatable and owns schema chronicle (a member of the
-- extension, created by its script).
SELECT extname, extrelocatable FROM pg_extension WHERE extname = 'chronicle';
SELECT count(*) AS schema_owned_by_extension
FROM pg_depend d
WHERE d.classid = 'pg_namespace'::regclass
  AND d.objid = 'chronicle'::regnamespace
  AND d.refclassid = 'pg_extension'::regclass
  AND d.deptype = 'e';

-- Both roles exist and the writer is a member of the reader.
SELECT rolname, rolcanlogin FROM pg_roles
WHERE rolname IN ('chronicle_reader', 'chronicle_writer') ORDER BY rolname;
SELECT pg_has_role('chronicle_writer', 'chronicle_reader', 'MEMBER') AS writer_is_reader;

-- Every function has a comment.
SELECT p.oid::regprocedure AS function_without_comment
FROM pg_proc p
WHERE p.pronamespace = 'chronicle'::regnamespace
  AND obj_description(p.oid, 'pg_proc') IS NULL;

-- Every function not written in C pins its search_path.
SELECT p.oid::regprocedure AS function_without_search_path
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'chronicle'::regnamespace
  AND l.lanname NOT IN ('c', 'internal')
  AND p.prokind IN ('f', 'p')
  AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);

-- PUBLIC may use the schema and nothing else in it, but for one function:
-- the WHEN clause of a tree table's guard trigger calls
-- chronicle._tree_maintaining() as whoever updates that table.
SELECT has_schema_privilege('public', 'chronicle', 'USAGE') AS public_usage;
SELECT p.oid::regprocedure AS executable_by_public
FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE p.pronamespace = 'chronicle'::regnamespace
  AND a.grantee = 0 AND a.privilege_type = 'EXECUTE';
SELECT c.oid::regclass AS table_visible_to_public
FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
WHERE c.relnamespace = 'chronicle'::regnamespace
  AND a.grantee = 0;

-- DROP and CREATE again work, and the schema goes with the extension.
DROP EXTENSION chronicle;
SELECT count(*) AS chronicle_schemas FROM pg_namespace WHERE nspname = 'chronicle';
CREATE EXTENSION chronicle;
SELECT chronicle.version() IS NOT NULL AS reinstalled;

-- ALTER EXTENSION ... UPDATE to the default version is a no-op, not an error.
ALTER EXTENSION chronicle UPDATE;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'chronicle')
       AS at_default_version
FROM pg_extension WHERE extname = 'chronicle';
