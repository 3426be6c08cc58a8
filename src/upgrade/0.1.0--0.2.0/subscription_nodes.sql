-- 0.1.0 -> 0.2.0: a subscription's checkpoints are per node of the log
-- (docs/design/citus.md, "Subscriptions on a cluster").  One
-- server has one log, node 0: every 0.1.0 checkpoint is a position in it and
-- stays valid as it is.  ack's signature gains node (dropped here, created
-- again by the re-runnable scripts).
ALTER TABLE chronicle.subscription_checkpoints ADD COLUMN node pg_catalog.int4 NOT NULL DEFAULT 0;
ALTER TABLE chronicle.subscription_checkpoints DROP CONSTRAINT subscription_checkpoints_pkey,
    ADD PRIMARY KEY (subscription, member, node);
COMMENT ON TABLE chronicle.subscription_checkpoints IS
    'The last acknowledged position of each consumer-group member that has acknowledged anything, per node of the log (written by ack).';
COMMENT ON COLUMN chronicle.subscription_checkpoints.node IS
    'The node whose log tx_id and global_position are in: 0 on one server; on a Citus cluster the Citus group id of a node holding shards.';
DROP FUNCTION chronicle.ack(pg_catalog.text, pg_catalog.xid8, pg_catalog.int8, pg_catalog.int4);
