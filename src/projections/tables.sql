-- chronicle projections: inline read models kept current by every append
-- (docs/reference/projections.md).

CREATE TABLE chronicle.projections (
    name       text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    reducer    text        NOT NULL,
    category   text,
    table_name regclass    NOT NULL,
    columns    jsonb       NOT NULL,
    defined_at timestamptz NOT NULL,
    owner      regrole     NOT NULL
);
COMMENT ON TABLE chronicle.projections IS
    'Inline projections: the reducer, the category it covered when defined (NULL: every stream), the table and its columns ([{name, type, path}]); written only by define_projection and drop_projection.';
COMMENT ON COLUMN chronicle.projections.owner IS
    'The role that defined the projection and owned its new table. On a Citus cluster, where table_name is the table''s name (text), the name resolves only to a table this role owns.';
-- User data: pg_dump keeps the definitions (table_name and owner are dumped as their names).
SELECT pg_catalog.pg_extension_config_dump('chronicle.projections', '');
