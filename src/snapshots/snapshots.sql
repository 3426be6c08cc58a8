-- chronicle snapshots: take, snapshot_all, prune, and the triggers that drop stale snapshots (data objects: tables.sql).

CREATE OR REPLACE FUNCTION chronicle.take_snapshot(stream_id text, reducer text) RETURNS bigint
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_take_snapshot';
COMMENT ON FUNCTION chronicle.take_snapshot(text, text) IS
    'Store the stream''s current state under the reducer''s current revision; returns the version snapshotted (0 when the stream has no events).';

-- A procedure in C: it commits after each batch, and a procedure that
-- commits cannot pin search_path with a SET clause (src/snapshots/all.cpp
-- qualifies every name instead).
CREATE OR REPLACE PROCEDURE chronicle.snapshot_all(reducer text, min_new_events int DEFAULT 100,
                                        batch_size int DEFAULT 1000)
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshot_all';
COMMENT ON PROCEDURE chronicle.snapshot_all(text, int, int) IS
    'Snapshot every stream of the reducer''s category (all streams when it has none) with at least min_new_events events since its newest snapshot; commits after each batch of batch_size streams.';

CREATE OR REPLACE FUNCTION chronicle.prune_snapshots(reducer text, keep int DEFAULT 1) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    current_revision int;
    removed bigint;
BEGIN
    IF prune_snapshots.reducer IS NULL THEN
        RAISE EXCEPTION 'reducer must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF keep IS NULL OR keep < 0 THEN
        RAISE EXCEPTION 'keep must be 0 or more, not %', keep USING ERRCODE = '22023';
    END IF;
    SELECT r.revision INTO current_revision
    FROM chronicle.reducers r WHERE r.name = prune_snapshots.reducer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reducer "%" does not exist', prune_snapshots.reducer
            USING ERRCODE = 'SE004', HINT = 'Define it with chronicle.define_reducer().';
    END IF;
    -- Older revisions are never used again: all of them go.  The rows are
    -- locked first, in (stream_id, version) order: snapshot_all writes a
    -- batch's rows in stream_id order, and a DELETE in whatever order its plan
    -- yields could hold a row such a batch waits for while it waits for one
    -- the batch holds (docs/design/locking.md, level 8).
    WITH doomed AS (
        SELECT q.stream_id, q.version
        FROM (SELECT p.stream_id, p.version, p.revision,
                     row_number() OVER (PARTITION BY p.stream_id, p.revision = current_revision
                                        ORDER BY p.version DESC) AS newest
              FROM chronicle.snapshots p
              WHERE p.reducer = prune_snapshots.reducer) q
        WHERE q.revision <> current_revision OR q.newest > keep),
    locked AS (
        SELECT s.stream_id, s.version
        FROM chronicle.snapshots s JOIN doomed d ON s.stream_id = d.stream_id AND s.version = d.version
        WHERE s.reducer = prune_snapshots.reducer
        ORDER BY s.stream_id, s.version
        FOR UPDATE OF s)
    DELETE FROM chronicle.snapshots s
    USING locked l
    WHERE s.reducer = prune_snapshots.reducer AND s.stream_id = l.stream_id AND s.version = l.version;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION chronicle.prune_snapshots(text, int) IS
    'Delete the reducer''s snapshots but the newest `keep` of its current revision per stream (older revisions all go); returns the rows removed.';

-- Internal: a change of the reducers reaches every backend's cache of
-- automatic-snapshot policies (src/snapshots/catalog.h).
CREATE OR REPLACE FUNCTION chronicle._snapshot_policies_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshot_policies_changed';
COMMENT ON FUNCTION chronicle._snapshot_policies_changed() IS
    'Internal trigger: invalidates every backend''s cache of automatic-snapshot policies.';
-- Row triggers: define_reducer's upsert stops at its one RETURNING row, so
-- its ModifyTable never ends and statement triggers would not fire.
CREATE OR REPLACE TRIGGER snapshot_policies_changed AFTER INSERT OR UPDATE OR DELETE ON chronicle.reducers
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshot_policies_changed();
CREATE OR REPLACE TRIGGER snapshot_policies_truncated AFTER TRUNCATE ON chronicle.reducers
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshot_policies_changed();

-- Internal: an upcaster changes what a replay reads from stored events, so
-- the snapshots that include events it applies to are deleted
-- (src/snapshots/upcasters.cpp).
CREATE OR REPLACE FUNCTION chronicle._snapshots_upcaster_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshots_upcaster_changed';
COMMENT ON FUNCTION chronicle._snapshots_upcaster_changed() IS
    'Internal trigger: deletes the snapshots that include events a new, changed or removed upcaster applies to.';
CREATE OR REPLACE TRIGGER snapshots_upcaster_changed AFTER INSERT OR DELETE ON chronicle.upcasters
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();
CREATE OR REPLACE TRIGGER snapshots_upcaster_updated AFTER UPDATE ON chronicle.upcasters
    FOR EACH ROW WHEN ((OLD.type, OLD.from_version, OLD.rules) IS DISTINCT FROM (NEW.type, NEW.from_version, NEW.rules))
    EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();
CREATE OR REPLACE TRIGGER snapshots_upcaster_truncated AFTER TRUNCATE ON chronicle.upcasters
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshots_upcaster_changed();

-- Internal: (reducer, revision) must always mean one definition.  An owner's
-- direct DELETE (then a new definition starts over at revision 1) or UPDATE
-- of rules/fn that keeps the revision would otherwise let the old
-- definition's snapshots pass for the new one's (src/snapshots/reducers.cpp).
-- define_reducer's own upserts raise the revision and do not fire it.
CREATE OR REPLACE FUNCTION chronicle._snapshots_reducer_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'chronicle_snapshots_reducer_changed';
COMMENT ON FUNCTION chronicle._snapshots_reducer_changed() IS
    'Internal trigger: deletes the snapshots of a reducer whose row is deleted, renamed, or changed without a new revision.';
CREATE OR REPLACE TRIGGER snapshots_reducer_deleted AFTER DELETE ON chronicle.reducers
    FOR EACH ROW EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
CREATE OR REPLACE TRIGGER snapshots_reducer_updated AFTER UPDATE ON chronicle.reducers
    FOR EACH ROW WHEN (OLD.name OPERATOR(pg_catalog.<>) NEW.name
                       OR (NEW.revision OPERATOR(pg_catalog.<=) OLD.revision
                           AND (OLD.revision, OLD.rules, OLD.fn)
                               IS DISTINCT FROM (NEW.revision, NEW.rules, NEW.fn)))
    EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
CREATE OR REPLACE TRIGGER snapshots_reducer_truncated AFTER TRUNCATE ON chronicle.reducers
    FOR EACH STATEMENT EXECUTE FUNCTION chronicle._snapshots_reducer_changed();
