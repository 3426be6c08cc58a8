-- chronicle snapshots: stored reducer states that replay starts from (docs/reference/snapshots.md).

-- Not an extension configuration table: a snapshot is a cache derived from
-- the log, the reducers and the upcasters, which pg_dump keeps.  A restored
-- database replays in full (same results) until CALL chronicle.snapshot_all()
-- has run, and a dump never carries a state that the restored definitions
-- would not produce.
CREATE TABLE chronicle.snapshots (
    stream_id text        NOT NULL,
    reducer   text        NOT NULL,
    revision  int         NOT NULL,
    version   bigint      NOT NULL CHECK (version OPERATOR(pg_catalog.>) 0),
    state     jsonb,      -- NULL only where a function reducer returned NULL
    taken_at  timestamptz NOT NULL,
    PRIMARY KEY (stream_id, reducer, version)
);
COMMENT ON TABLE chronicle.snapshots IS
    'Reducer states at a stream version; replay starts from the newest one of the reducer''s current revision. Written only by chronicle''s functions.';
