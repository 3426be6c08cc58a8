-- chronicle events: the stream and event tables (docs/reference/events.md).
-- Column order is part of the contract: chronicle.events is also the row type
-- that read functions return and that fold() and SQL reducers receive.
-- tags and original_digest (0.2.0) are the last columns, after hash, in
-- fresh and upgraded databases alike: 0.1.0 -> 0.2.0 adds them with ALTER
-- TABLE ... ADD COLUMN, which appends them and, with a constant default (or
-- none), does not rewrite the log (docs/design/dcb.md, "Where the tags column
-- goes").

CREATE TABLE chronicle.streams (
    stream_id  text        PRIMARY KEY,
    category   text        NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.streams IS
    'One row per stream: its category and current version (the number of events).';

-- No foreign key to chronicle.streams: pg_restore -j loads the two tables in
-- parallel sessions, and a key checked row by row would reject the events
-- whose stream rows another session has not committed yet (issue 12).  The
-- append path writes the stream row first, in the same transaction, and
-- chronicle.verify() reports events without a stream row and stream rows
-- whose version disagrees with their events (docs/design/operations.md).
CREATE TABLE chronicle.events (
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    global_position bigint      NOT NULL UNIQUE,
    event_id        uuid        NOT NULL UNIQUE,
    type            text        NOT NULL,
    type_version    int         NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL,
    tx_id           xid8        NOT NULL,
    hash            bytea       NOT NULL,
    tags            text[]      COLLATE "C" NOT NULL DEFAULT '{}',
    -- Empty, or for a redacted event the SHA-256 content digest of its data
    -- and metadata as appended, which its hash commits to: a redacted row
    -- carries what its link needs, so the insert check (a restore's too)
    -- checks it from the row alone (docs/design/erasure.md).  Not NULL: a
    -- row of chronicle.events has no NULL field (so "e IS NOT NULL" holds
    -- for every event a reducer receives).
    original_digest bytea       NOT NULL DEFAULT '\x',
    PRIMARY KEY (stream_id, version)
);
COMMENT ON TABLE chronicle.events IS
    'The append-only event log; rows are written only by chronicle.append and chronicle.append_batch.';

CREATE SEQUENCE chronicle.global_position_seq AS bigint OWNED BY chronicle.events.global_position;
COMMENT ON SEQUENCE chronicle.global_position_seq IS
    'Source of chronicle.events.global_position (unique, increasing, may have gaps).';

-- Indexes: a stream read by version is the primary key; the global log in
-- (tx_id, global_position) order; a category in log order.  The category is
-- the part of stream_id before the first '-', exactly
-- pg_catalog.split_part(stream_id, '-', 1); read_all's category filter uses
-- that same expression so the planner matches this index.
CREATE INDEX events_log_idx ON chronicle.events (tx_id, global_position);
CREATE INDEX events_category_log_idx
    ON chronicle.events (pg_catalog.split_part(stream_id, '-', 1), tx_id, global_position);
CREATE INDEX streams_category_idx ON chronicle.streams (category);
-- Tags (docs/reference/dcb.md): read_query and append_events' condition find a
-- tag's events through this index (docs/design/dcb.md, "The tag index").
-- Partial: an untagged event costs no index entry, and upgrading a 0.1.0 log
-- (every row untagged) builds an empty index.  Queries repeat the predicate.
-- fastupdate off: a pending list makes every search scan it whole until an
-- insert past gin_pending_list_limit or a vacuum moves it into the index, and
-- append_events' condition searches on every call (measured with every limit:
-- docs/design/dcb.md, "What tags cost").
CREATE INDEX events_tags_idx ON chronicle.events USING gin (tags) WITH (fastupdate = off)
    WHERE tags OPERATOR(pg_catalog.<>) '{}'::text[];

-- pg_dump skips the contents of an extension's tables unless told otherwise;
-- the log is user data, so it is dumped.  The events in version order: a
-- restore's COPY passes each row through events_insert_check, which accepts
-- only the next version of its stream, and the table's physical order is not
-- version order once VACUUM has freed the space of rolled-back appends.
-- pg_dump copies a configuration table as
-- COPY (SELECT ... FROM chronicle.events <condition>), so the condition may
-- be an ORDER BY (docs/design/operations.md, "Backup and restore").
SELECT pg_catalog.pg_extension_config_dump('chronicle.streams', '');
SELECT pg_catalog.pg_extension_config_dump('chronicle.events', 'ORDER BY stream_id, version');
SELECT pg_catalog.pg_extension_config_dump('chronicle.global_position_seq', '');
