-- chronicle: the schema.  Created here, not by the control file, so that the
-- schema is a member of the extension: DROP EXTENSION removes it, and a
-- pre-existing user schema of that name is never taken over.
--
-- How the scripts are assembled (see the Makefile):
--   install  chronicle--<v>.sql     = this file, each module's tables.sql and
--            tables_*.sql (data objects: created once), src/base.sql and each
--            module's other *.sql (re-runnable code), src/privileges.sql
--   upgrade  chronicle--A--B.sql    = src/upgrade/A--B/before/*.sql (checks that
--            refuse the update), the data files new in B (UPGRADE_NEW),
--            src/upgrade/A--B/*.sql
--            (data-object migrations), the same re-runnable code,
--            src/upgrade/A--B/after/*.sql, src/privileges.sql
-- So a changed function reaches upgraded databases by construction; a changed
-- table needs a migration, and test/upgrade compares the two catalogs.
CREATE SCHEMA chronicle;
COMMENT ON SCHEMA chronicle IS 'chronicle: event store and nested sets';
