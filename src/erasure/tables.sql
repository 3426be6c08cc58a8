-- chronicle erasure: redactions and ledger digests (docs/design/erasure.md).

-- One row per redacted event: what was removed so far, when, how often.  A
-- register, which no integrity check relies on (snapshot writers read it to
-- notice a redaction their snapshot cannot see): the digest a redacted event's link
-- commits to travels with the event (chronicle.events.original_digest), and
-- what a redaction left is recorded in its chained receipt (stream
-- chronicle-erasures), which verify() checks each redacted event against.
-- So a restore may load this table before, after or while it loads
-- chronicle.events (test/restore_redacted).  Written only by chronicle.redact
-- and chronicle.redact_tagged.
CREATE TABLE chronicle.erasures (
    stream_id      text        NOT NULL,
    version        bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    paths          text[],     -- removed so far (NULL: all of data and metadata)
    redacted_at    timestamptz NOT NULL,
    redactions     int         NOT NULL DEFAULT 1,
    -- the receipt streams holding its receipts, the latest redaction's last
    -- (one server: chronicle-erasures; a Citus cluster: the chronicle-erasures-<n>
    -- of the stream's shard group when it was redacted), so that verify(stream)
    -- reads those streams only (NULL: not recorded, every receipt stream is read)
    receipt_streams text[],
    PRIMARY KEY (stream_id, version)
);
COMMENT ON TABLE chronicle.erasures IS
    'Redacted events: the paths removed so far, when, how many redactions, the receipt streams holding their receipts. Written only by chronicle.redact / redact_tagged.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.erasures', '');

-- Every digest chronicle.digest() took on a primary.  heads is the exact
-- byte string whose SHA-256 is root (each stream's head: stream_id, version,
-- hash), kept so that verify_digest can name the streams that changed.
CREATE TABLE chronicle.digests (
    digest_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    taken_at        timestamptz NOT NULL,
    position        xid8        NOT NULL,
    global_position bigint      NOT NULL,
    streams         bigint      NOT NULL,
    events          bigint      NOT NULL,
    root            bytea       NOT NULL,
    heads           bytea       NOT NULL
);
CREATE INDEX digests_root_idx ON chronicle.digests (root);
COMMENT ON TABLE chronicle.digests IS
    'Ledger digests taken by chronicle.digest(): log position, stream and event counts, root hash over every stream''s head, and the heads themselves.';
SELECT pg_catalog.pg_extension_config_dump('chronicle.digests', '');
