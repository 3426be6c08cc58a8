-- Erasure and digests (docs/design/erasure.md), on primary and standby: the
-- redacted event reads redacted, verify() and every recorded digest verify,
-- a digest with a forged root does not, and digest() runs (recording nothing
-- on the standby) and verifies at once.  Only setup's digest is read back:
-- the primary's own run of this file records another, which the standby may
-- or may not have replayed when its run starts.
SELECT version, data FROM chronicle.read_stream('erasure-1');
SELECT stream_id, version, paths FROM chronicle.erasures ORDER BY 1, 2;
SELECT * FROM chronicle.verify();
SELECT d.digest_id, v.*
  FROM chronicle.digests d,
       chronicle.verify_digest(jsonb_build_object('position', d.position::text::numeric, 'streams', d.streams,
                                                  'events', d.events, 'root', encode(d.root, 'hex'))) v
 WHERE d.digest_id = (SELECT min(digest_id) FROM chronicle.digests);
SELECT d.digest_id, v.stream_id, v.version, left(v.problem, 40) AS problem
  FROM chronicle.digests d,
       chronicle.verify_digest(jsonb_build_object('position', d.position::text::numeric, 'streams', d.streams,
                                                  'events', d.events, 'root', repeat('0', 64))) v
 WHERE d.digest_id = (SELECT min(digest_id) FROM chronicle.digests);
SELECT count(*) AS problems FROM chronicle.verify_digest(chronicle.digest());
