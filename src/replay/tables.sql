-- chronicle replay: reducers, replay, fold and merge_agg (SPEC section 3).

CREATE TABLE chronicle.reducers (
    name           text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    revision       int         NOT NULL CHECK (revision > 0),
    rules          jsonb,
    fn             regprocedure,
    category       text,
    snapshot_every int         CHECK (snapshot_every > 0),
    defined_at     timestamptz NOT NULL,
    CHECK ((rules IS NULL) <> (fn IS NULL))
);
COMMENT ON TABLE chronicle.reducers IS
    'Reducers by name: the current revision and either its rules (jsonb) or its function; written only by chronicle.define_reducer.';
-- User data: pg_dump keeps the definitions (fn is dumped as its signature).
SELECT pg_catalog.pg_extension_config_dump('chronicle.reducers', '');
