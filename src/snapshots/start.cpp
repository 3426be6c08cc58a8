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
#include "pg/boundary.h"
#include "replay/replay.h"
#include "snapshots/catalog.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
}

bool snapshot_start(text *stream_id, const char *reducer, int32 revision, const ReplayBounds *bounds,
                    Jsonb **state, int64 *version)
{
    static SPIPlanPtr plan = nullptr;
    if (!plan)
    {
        Oid types[5] = {TEXTOID, TEXTOID, INT4OID, INT8OID, TIMESTAMPTZOID};
        plan = SPI_prepare("SELECT s.version, s.state FROM chronicle.snapshots s"
                           " WHERE s.stream_id OPERATOR(pg_catalog.=) $1"
                           "   AND s.reducer OPERATOR(pg_catalog.=) $2"
                           "   AND s.version OPERATOR(pg_catalog.<=) $4"
                           "   AND s.revision OPERATOR(pg_catalog.=) $3"
                           "   AND s.taken_at OPERATOR(pg_catalog.<=) $5"
                           " ORDER BY s.version DESC LIMIT 1",
                           5, types);
        if (!plan)
            elog(ERROR, "chronicle: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        SPI_keepplan(plan);
    }
    const SnapshotsCatalog *cat = snapshots_catalog();
    TimestampTz until;
    TIMESTAMP_NOEND(until);
    Datum args[5] = {PointerGetDatum(stream_id), CStringGetTextDatum(reducer), Int32GetDatum(revision),
                     Int64GetDatum(bounds->has_version ? bounds->as_of_version : PG_INT64_MAX),
                     TimestampTzGetDatum(bounds->has_time ? bounds->as_of_time : until)};
    /*
     * As the owner: whoever may replay may use the snapshots, whatever their
     * privileges on the table.  Read-only, in the replay's snapshot.
     */
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(cat->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    int rc = SPI_execute_plan(plan, args, nullptr, true, 1);
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
