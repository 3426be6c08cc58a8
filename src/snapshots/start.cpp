/*
 * start.cpp: where a replay starts (replay_start_hook): the newest snapshot
 * of the reducer's current revision within the bounds.
 *
 * A version bound is simple: a snapshot at or below it.  A time bound is
 * not: recorded_at need not grow with version (two transactions commit in
 * either order), and replay stops at the first event recorded after the
 * bound, so a snapshot is usable only if every event it includes was
 * recorded at or before the bound.  taken_at is the clock when the snapshot
 * was written, after all of its events committed, hence after each one's
 * recorded_at: a snapshot with taken_at <= as_of_time is provably identical
 * to the full replay's state at its version.  Others are skipped (the
 * replay then starts earlier, or at version 1).
 */
#include "snapshots/snapshots.h"
#include "pg/boundary.h"
#include "pg/spi.h"
#include "replay/replay.h"
#include "snapshots/catalog.h"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
}

/* Columns of chronicle.snapshots, in table order. */
enum
{
    COL_STREAM_ID = 1,
    COL_REDUCER,
    COL_REVISION,
    COL_VERSION,
    COL_STATE,
    COL_TAKEN_AT
};

/* Is the table what the direct probe assumes (types in column order, the primary key)? */
static bool usable_table(Relation heap)
{
    static const Oid types[] = {TEXTOID, TEXTOID, INT4OID, INT8OID, JSONBOID, TIMESTAMPTZOID};
    TupleDesc desc = RelationGetDescr(heap);
    if (desc->natts != lengthof(types))
        return false;
    for (int i = 0; i < desc->natts; i++)
        if (TupleDescAttr(desc, i)->attisdropped || TupleDescAttr(desc, i)->atttypid != types[i])
            return false;
    return true;
}

static bool usable_index(Relation index, Oid relid)
{
    Form_pg_index ix = index->rd_index;
    return index->rd_rel->relam == BTREE_AM_OID && ix->indrelid == relid && ix->indisvalid &&
           ix->indnkeyatts == 3 && ix->indkey.values[0] == COL_STREAM_ID &&
           ix->indkey.values[1] == COL_REDUCER && ix->indkey.values[2] == COL_VERSION &&
           index->rd_opcintype[0] == TEXTOID && index->rd_opcintype[1] == TEXTOID &&
           index->rd_opcintype[2] == INT8OID && index->rd_indoption[0] == 0 &&
           index->rd_indoption[1] == 0 && index->rd_indoption[2] == 0;
}

/*
 * The snapshot by a backward scan of the primary key (what the query below
 * does, without planning and executing a statement: a few microseconds
 * every replay pays).  -1 when the table is not as created (the query then
 * decides), 0 when there is no usable snapshot, 1 when found.
 */
static int probe_direct(text *stream_id, const char *reducer, int32 revision, int64 upto, TimestampTz until,
                        Jsonb **state, int64 *version)
{
    if (!ActiveSnapshotSet())
        return -1;
    const SnapshotsCatalog *cat = snapshots_catalog();
    /* The owner reads it (as the query would); only a forced policy could apply. */
    if (check_enable_rls(cat->snapshots, cat->owner, true) == RLS_ENABLED)
        return -1;
    /* Gone since the lookup (a concurrent DROP EXTENSION): the query reports it by name. */
    Relation heap = try_relation_open(cat->snapshots, AccessShareLock);
    if (!heap)
        return -1;
    Oid pk = heap->rd_rel->relkind == RELKIND_RELATION && usable_table(heap) ? RelationGetPrimaryKeyIndex(heap)
                                                                             : InvalidOid;
    if (!OidIsValid(pk))
    {
        table_close(heap, NoLock);
        return -1;
    }
    Relation index = index_open(pk, AccessShareLock);
    if (!usable_index(index, RelationGetRelid(heap)))
    {
        index_close(index, NoLock);
        table_close(heap, NoLock);
        return -1;
    }
    ScanKeyData keys[3];
    ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[0],
                           F_TEXTEQ, PointerGetDatum(stream_id));
    ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[1],
                           F_TEXTEQ, CStringGetTextDatum(reducer));
    ScanKeyEntryInitialize(&keys[2], 0, 3, BTLessEqualStrategyNumber, InvalidOid, InvalidOid, F_INT8LE,
                           Int64GetDatum(upto));
    Snapshot snapshot = RegisterSnapshot(GetActiveSnapshot());
    /*
     * Under REPEATABLE READ the transaction's snapshot can still see a row
     * that a committed define_upcaster (or a reducer row's change) deleted as
     * stale while this transaction waited for its lock on chronicle.snapshots
     * (docs/design/locking.md), while the definitions this replay applies are
     * read with the latest snapshot: such a row must not be a start.  A row
     * that is also visible now was not deleted.
     */
    Snapshot latest = IsolationUsesXactSnapshot() ? RegisterSnapshot(GetLatestSnapshot()) : nullptr;
    IndexScanDesc scan = index_beginscan(heap, index, snapshot, 3, 0);
    index_rescan(scan, keys, 3, nullptr, 0);
    TupleTableSlot *slot = table_slot_create(heap, nullptr);
    int found = 0;
    /* Newest first; older revisions and later-taken rows are passed over. */
    while (index_getnext_slot(scan, BackwardScanDirection, slot))
    {
        CHECK_FOR_INTERRUPTS();
        bool isnull;
        if (DatumGetInt32(slot_getattr(slot, COL_REVISION, &isnull)) != revision)
            continue;
        if (DatumGetTimestampTz(slot_getattr(slot, COL_TAKEN_AT, &isnull)) > until)
            continue;
        if (latest && !table_tuple_satisfies_snapshot(heap, slot, latest))
            continue;
        *version = DatumGetInt64(slot_getattr(slot, COL_VERSION, &isnull));
        Datum s = slot_getattr(slot, COL_STATE, &isnull);
        *state = isnull ? nullptr : DatumGetJsonbPCopy(s);
        found = 1;
        break;
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
    if (latest)
        UnregisterSnapshot(latest);
    UnregisterSnapshot(snapshot);
    /* Locks held to the end of the transaction, as the executor's. */
    index_close(index, NoLock);
    table_close(heap, NoLock);
    return found;
}

bool snapshot_start(text *stream_id, const char *reducer, int32 revision, const ReplayBounds *bounds,
                    Jsonb **state, int64 *version)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[5] = {TEXTOID, TEXTOID, INT4OID, INT8OID, TIMESTAMPTZOID};
    pg::spi::kept_plan(&plan,
                  "SELECT s.version, s.state FROM chronicle.snapshots s"
                  " WHERE s.stream_id OPERATOR(pg_catalog.=) $1"
                  "   AND s.reducer OPERATOR(pg_catalog.=) $2"
                  "   AND s.version OPERATOR(pg_catalog.<=) $4"
                  "   AND s.revision OPERATOR(pg_catalog.=) $3"
                  "   AND s.taken_at OPERATOR(pg_catalog.<=) $5"
                  " ORDER BY s.version DESC LIMIT 1",
                  5, types);
    TimestampTz until;
    TIMESTAMP_NOEND(until);
    if (bounds->has_time)
        until = bounds->as_of_time;
    int64 upto = bounds->has_version ? bounds->as_of_version : PG_INT64_MAX;
    int direct = probe_direct(stream_id, reducer, revision, upto, until, state, version);
    if (direct >= 0)
        return direct == 1;
    /* The query cannot tell a row deleted as stale since the transaction's
     * snapshot (above): under REPEATABLE READ a changed table replays in full. */
    if (IsolationUsesXactSnapshot())
        return false;

    const SnapshotsCatalog *cat = snapshots_catalog();
    Datum args[5] = {PointerGetDatum(stream_id), CStringGetTextDatum(reducer), Int32GetDatum(revision),
                     Int64GetDatum(upto), TimestampTzGetDatum(until)};
    /*
     * As the owner: whoever may replay may use the snapshots, whatever their
     * privileges on the table.  Read-only, in the replay's snapshot.
     */
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(cat->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    int rc = pg::spi::execute_plan(plan, args, nullptr, true, 1);
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading snapshots failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        return false;
    bool isnull;
    HeapTuple tuple = SPI_tuptable->vals[0];
    *version = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
    Datum s = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull);
    /* A function reducer's state may be NULL; the replay continues from NULL. */
    *state = isnull ? nullptr : DatumGetJsonbPCopy(s);
    return true;
}
