-- chronicle events: the stream and event tables (SPEC section 2).
-- Column order is part of the contract: chronicle.events is also the row type
-- that read functions return and that fold() and SQL reducers receive.

CREATE TABLE chronicle.streams (
    stream_id  text        PRIMARY KEY,
    category   text        NOT NULL,
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.streams IS
    'One row per stream: its category and current version (the number of events).';

CREATE TABLE chronicle.events (
    stream_id       text        NOT NULL REFERENCES chronicle.streams,
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
    PRIMARY KEY (stream_id, version)
);
COMMENT ON TABLE chronicle.events IS
    'The append-only event log; rows are written only by chronicle.append and chronicle.append_batch.';

CREATE SEQUENCE chronicle.global_position_seq AS bigint OWNED BY chronicle.events.global_position;
COMMENT ON SEQUENCE chronicle.global_position_seq IS
    'Source of chronicle.events.global_position (unique, increasing, may have gaps).';
