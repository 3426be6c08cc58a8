-- chronicle erasure: redactions and ledger digests (docs/design/erasure.md).

-- One row per redacted event: the content digest of the event as appended,
-- which the hash chain (v2) commits to, so that the event's link still
-- verifies once its data is gone.  Written only by chronicle.redact and
-- chronicle.redact_tagged; an edit or a deletion here breaks verify().
-- A restore must load it before chronicle.events, whose insert check needs a
-- redacted event's kept digest: pg_dump loads extension tables' data in name
-- order within the foreign keys' order, and "erasures" sorts before "events"
-- (test/restore checks a dump and restore of a redacted log).
CREATE TABLE chronicle.erasures (
    stream_id      text        NOT NULL,
    version        bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    content_digest bytea       NOT NULL,
    paths          text[],     -- removed so far (NULL: all of data and metadata)
    redacted_at    timestamptz NOT NULL,
    redactions     int         NOT NULL DEFAULT 1,
    PRIMARY KEY (stream_id, version)
);
COMMENT ON TABLE chronicle.erasures IS
    'Redacted events: the digest of each one''s original content, which its hash chain link commits to. Written only by chronicle.redact / redact_tagged.';
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
