-- 0.1.0 -> 0.2.0: no cross-table foreign keys among chronicle's tables, so
-- that pg_restore -j can load them in any order (issue 12; see
-- docs/design/operations.md, "Backup and restore").  The append path and
-- chronicle.verify() keep events and stream rows consistent; unsubscribe
-- (re-created by the re-runnable scripts) deletes checkpoints and parked rows
-- itself.
ALTER TABLE chronicle.events DROP CONSTRAINT events_stream_id_fkey;
ALTER TABLE chronicle.subscription_checkpoints DROP CONSTRAINT subscription_checkpoints_subscription_fkey;
ALTER TABLE chronicle.parked DROP CONSTRAINT parked_subscription_fkey;
-- The triggers that now keep stream rows from DELETE and TRUNCATE (what the
-- key did for rows with events) are code: src/events/triggers.sql.

-- pg_dump copies the events in version order, whatever their physical order
-- (see src/events/tables.sql); registering the table again replaces its
-- condition.
SELECT pg_catalog.pg_extension_config_dump('chronicle.events', 'ORDER BY stream_id, version');
