-- chronicle subscriptions: the position type, subscriptions, checkpoints and parked events.

CREATE TYPE chronicle.log_position AS (tx_id xid8, global_position bigint);
COMMENT ON TYPE chronicle.log_position IS
    'A position in the global log, in read_all order: (tx_id, global_position).';

CREATE TABLE chronicle.subscriptions (
    name           text        PRIMARY KEY,
    category       text,                        -- NULL: every category
    types          text[],                      -- NULL: every type; sorted, distinct
    members        int         NOT NULL DEFAULT 1 CHECK (members BETWEEN 1 AND 1024),
    -- Where a member without a row in subscription_checkpoints stands: the
    -- start of the subscription, or the lowest checkpoint at the last change
    -- of the group size.
    start_tx_id    xid8        NOT NULL,
    start_position bigint      NOT NULL,
    created_at     timestamptz NOT NULL,
    owner          regrole     NOT NULL
);
COMMENT ON TABLE chronicle.subscriptions IS
    'Subscriptions: filters, consumer-group size and start position (written by subscribe, poll on a new group size, unsubscribe).';
COMMENT ON COLUMN chronicle.subscriptions.owner IS
    'The role that subscribed; only it or a member of it (or a superuser) may poll, ack, park, replay, resize, unsubscribe or give it away (docs/design/security.md).';

-- Checkpoints and parked events name their subscription without a foreign
-- key, so that pg_restore -j may load the three tables in any order (issue 12):
-- ack, park and replay_parked lock the subscription row (KEY SHARE) before
-- they write, and unsubscribe deletes a subscription's rows with it.
-- node: whose log the position is in.  One server has one log, node 0; on a
-- Citus cluster each node holding shards has a log of its own, named by its
-- Citus group id (docs/design/citus.md), and a member has a checkpoint per
-- node.  (Last, as the 0.1.0 -> 0.2.0 migration adds it.)
CREATE TABLE chronicle.subscription_checkpoints (
    subscription    text        NOT NULL,
    member          int         NOT NULL,
    tx_id           xid8        NOT NULL,
    global_position bigint      NOT NULL,
    acked_at        timestamptz NOT NULL,
    node            int         NOT NULL DEFAULT 0,
    PRIMARY KEY (subscription, member, node)
);
COMMENT ON TABLE chronicle.subscription_checkpoints IS
    'The last acknowledged position of each consumer-group member that has acknowledged anything, per node of the log (written by ack).';
COMMENT ON COLUMN chronicle.subscription_checkpoints.node IS
    'The node whose log tx_id and global_position are in: 0 on one server; on a Citus cluster the Citus group id of a node holding shards.';

CREATE TABLE chronicle.parked (
    subscription text        NOT NULL,
    event_id     uuid        NOT NULL,
    error        text        NOT NULL,
    attempts     int         NOT NULL,
    parked_at    timestamptz NOT NULL,
    PRIMARY KEY (subscription, event_id)
);
COMMENT ON TABLE chronicle.parked IS
    'Events a subscription''s consumer parked: skipped by poll until replay_parked; the last error, how often parked, when last.';

-- Subscription state is user data: pg_dump includes it.
SELECT pg_catalog.pg_extension_config_dump('chronicle.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.subscription_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.parked', '');
