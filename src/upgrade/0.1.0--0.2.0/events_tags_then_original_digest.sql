-- Erasure (docs/design/erasure.md): a redacted event carries the content digest of
-- its data and metadata as appended, which its hash commits to, so that the
-- insert check (a restore's) checks it from the row alone.  After tags (this
-- file sorts after events_tags.sql), as src/events/tables.sql has it; no
-- constant default, so ADD COLUMN rewrites nothing.  No 0.1.0 event is
-- redacted: empty everywhere.
ALTER TABLE chronicle.events ADD COLUMN original_digest bytea NOT NULL DEFAULT '\x';
