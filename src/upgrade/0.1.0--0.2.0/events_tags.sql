-- Event tags (docs/reference/dcb.md).  ADD COLUMN appends the column after hash; a
-- constant default makes it a catalog-only change (no rewrite of the log,
-- however long).  src/events/tables.sql creates the same column order.
ALTER TABLE chronicle.events ADD COLUMN tags text[] COLLATE "C" NOT NULL DEFAULT '{}';
-- Every 0.1.0 event is untagged: the partial index starts empty.
CREATE INDEX events_tags_idx ON chronicle.events USING gin (tags) WITH (fastupdate = off)
    WHERE tags OPERATOR(pg_catalog.<>) '{}'::text[];
-- append gains tags text[] DEFAULT NULL.
DROP FUNCTION chronicle.append(text, text, jsonb, jsonb, bigint, uuid);
