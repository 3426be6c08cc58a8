-- chronicle 0.1.0 -> 0.2.0: subscriptions are owned (docs/design/security.md).
--
-- owner: nobody recorded who subscribed under 0.1.0, so existing
-- subscriptions belong to the role that owns the extension, the safe choice:
-- until it (or a superuser) gives one to its consumer's role with
-- chronicle.alter_subscription_owner(), only members of that role and
-- superusers may poll, ack, park, replay or unsubscribe it.  The column comes
-- last, as in a fresh install.
ALTER TABLE chronicle.subscriptions ADD COLUMN owner pg_catalog.regrole;
UPDATE chronicle.subscriptions
   SET owner = (SELECT e.extowner FROM pg_catalog.pg_extension e
                 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle')::pg_catalog.regrole;
ALTER TABLE chronicle.subscriptions ALTER COLUMN owner SET NOT NULL;
COMMENT ON COLUMN chronicle.subscriptions.owner IS
    'The role that subscribed; only it or a member of it (or a superuser) may poll, ack, park, replay, resize, unsubscribe or give it away (docs/design/security.md).';
