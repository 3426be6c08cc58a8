-- chronicle replay: reducers, replay, fold and merge_agg (docs/reference/replay.md).

CREATE TABLE chronicle.reducers (
    name           text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    revision       int         NOT NULL CHECK (revision > 0),
    rules          jsonb,
    fn             text,
    category       text,
    snapshot_every int         CHECK (snapshot_every > 0),
    defined_at     timestamptz NOT NULL,
    owner          regrole     NOT NULL,
    CHECK ((rules IS NULL) <> (fn IS NULL))
);
COMMENT ON TABLE chronicle.reducers IS
    'Reducers by name: the current revision and either its rules (jsonb) or its function; written only by chronicle.define_reducer.';
COMMENT ON COLUMN chronicle.reducers.fn IS
    'A function reducer''s function as its schema-qualified signature (format_procedure_qualified), resolved when used: text survives pg_dump and pg_upgrade, regprocedure does not.';
COMMENT ON COLUMN chronicle.reducers.owner IS
    'The role that defined the reducer; only it or a member of it may redefine it (docs/design/security.md).';
-- User data: pg_dump keeps the definitions (owner is dumped as the role''s name).
SELECT pg_catalog.pg_extension_config_dump('chronicle.reducers', '');
