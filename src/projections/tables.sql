-- chronicle projections: inline read models kept current by every append
-- (docs/reference/projections.md).

CREATE TABLE chronicle.projections (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    reducer    text        NOT NULL,
    category   text,
    table_name regclass    NOT NULL,
    columns    jsonb       NOT NULL,
    defined_at timestamptz NOT NULL
);
COMMENT ON TABLE chronicle.projections IS
    'Inline projections: the reducer, the category it covered when defined (NULL: every stream), the table and its columns ([{name, type, path}]); written only by define_projection and drop_projection.';
-- User data: pg_dump keeps the definitions (table_name is dumped as its name).
SELECT pg_catalog.pg_extension_config_dump('chronicle.projections', '');
