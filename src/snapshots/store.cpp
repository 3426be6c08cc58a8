/*
 * store.cpp: a snapshot is a replay (which itself starts from the newest
 * usable snapshot) whose state is written with the owner's rights.
 *
 * The replay runs with the caller's rights (an automatic snapshot runs a
 * function reducer's function as its owner, observer.cpp): a function
 * reducer is user code and must never run as chronicle's owner
 * (docs/design/security.md).  The INSERT into chronicle.snapshots runs as
 * that owner.
 */
#include "snapshots/store.h"

#include "pg/boundary.h"
#include "pg/spi.h"
#include "replay/replay.h"
#include "snapshots/catalog.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
}

/*
 * taken_at is the clock when the row is written, after the replay read its
 * events: every event it includes was recorded (at its transaction's start)
 * before its commit, hence before taken_at.  A time-bounded replay relies on
 * that (start.cpp).  An existing row of the same revision is the same
 * state: kept as it is.
 */
static SPIPlanPtr insert_plan(void)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[5] = {TEXTOID, TEXTOID, INT4OID, INT8OID, JSONBOID};
    return pg::spi::kept_plan(
        &plan,
        "INSERT INTO chronicle.snapshots AS s (stream_id, reducer, revision, version, state, taken_at)"
        " VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp())"
        " ON CONFLICT (stream_id, reducer, version) DO UPDATE"
        " SET revision = excluded.revision, state = excluded.state, taken_at = excluded.taken_at"
        " WHERE s.revision OPERATOR(pg_catalog.<>) excluded.revision",
        5, types);
}

static void write_row(text *stream_id, const char *reducer, const ReplayResult *result, Oid owner)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    Datum args[5] = {PointerGetDatum(stream_id), CStringGetTextDatum(reducer), Int32GetDatum(result->revision),
                     Int64GetDatum(result->version), PointerGetDatum(result->state)};
    char nulls[5] = {' ', ' ', ' ', ' ', result->state ? ' ' : 'n'};
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    /* An error aborts the (sub)transaction, which restores the identity. */
    int rc = pg::spi::execute_plan(insert_plan(), args, nulls, false, 0);
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "chronicle: writing the snapshot failed: %s", SPI_result_code_string(rc));
    SPI_finish();
}

int64 snapshot_store(text *stream_id, const char *reducer, int64 upto, ReducerRights rights)
{
    const SnapshotsCatalog *cat = snapshots_catalog();
    Oid owner = cat->owner;
    /*
     * Taken before the replay reads upcasters and events: a define_upcaster
     * (whose trigger takes SHARE ROW EXCLUSIVE on chronicle.snapshots to
     * delete the snapshots it makes stale) either waits for this snapshot to
     * commit and then deletes it, or commits first and this replay sees its
     * upcaster.
     */
    LockRelationOid(cat->snapshots, RowExclusiveLock);

    /*
     * The stream's row FOR KEY SHARE, as the owner, before the replay reads
     * the events: it conflicts with the FOR UPDATE a redaction holds (not with
     * an append's update), so a snapshot computed from the data before a
     * redaction has committed before that redaction deletes the stream's
     * snapshots, and one started during it waits and, in READ COMMITTED,
     * replays the redacted data (isolation erasure_redact_snapshot).
     *
     * In REPEATABLE READ and SERIALIZABLE the replay reads the events as of
     * the transaction's snapshot, which may predate a redaction that has
     * committed since (before this call, or while it waited for the lock):
     * it would store the erased values, after the redaction deleted the
     * stream's snapshots.  So, once the lock is held, a redaction of the
     * stream that the latest snapshot sees and the transaction's does not
     * (every redaction writes chronicle.erasures rows of the stream in its
     * own transaction) is 40001, as a concurrent update of a row would be
     * (isolation erasure_redact_snapshot_rr).
     */
    {
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "chronicle: SPI_connect failed");
        static SPIPlanPtr lock_plan = nullptr;
        static const Oid types[1] = {TEXTOID};
        Datum args[1] = {PointerGetDatum(stream_id)};
        Oid save_user;
        int save_sec;
        GetUserIdAndSecContext(&save_user, &save_sec);
        SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
        int rc = pg::spi::execute_plan(
            pg::spi::kept_plan(&lock_plan,
                               "SELECT 1 FROM chronicle.streams s WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
                               "FOR KEY SHARE",
                               1, types),
            args, nullptr, false, 0);
        if (rc == SPI_OK_SELECT && IsolationUsesXactSnapshot())
        {
            static SPIPlanPtr redactions_plan = nullptr;
            SPIPlanPtr plan = pg::spi::kept_plan(
                &redactions_plan,
                "SELECT pg_catalog.count(*), pg_catalog.sum(r.redactions) FROM chronicle.erasures r "
                "WHERE r.stream_id OPERATOR(pg_catalog.=) $1",
                1, types);
            int64 mine[2], latest[2];
            for (int pass = 0; pass < 2 && rc == SPI_OK_SELECT; pass++)
            {
                rc = pass == 0 ? pg::spi::execute_plan(plan, args, nullptr, true, 1)
                               : pg::spi::execute_snapshot(plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot,
                                                           true, false, 1);
                bool isnull;
                int64 *out = pass == 0 ? mine : latest;
                out[0] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
                Datum sum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
                out[1] = isnull ? 0 : DatumGetInt64(sum);
            }
            if (rc == SPI_OK_SELECT && (mine[0] != latest[0] || mine[1] != latest[1]))
            {
                SetUserIdAndSecContext(save_user, save_sec);
                ereport(ERROR,
                        (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                         errmsg("could not serialize access: stream \"%s\" was redacted after this transaction's "
                                "snapshot was taken",
                                text_to_cstring(stream_id)),
                         errdetail("A snapshot computed from the events as this transaction sees them would keep "
                                   "erased values."),
                         errhint("Retry the transaction.")));
            }
        }
        SetUserIdAndSecContext(save_user, save_sec);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "chronicle: locking the stream failed: %s", SPI_result_code_string(rc));
        SPI_finish();
    }

    /*
     * A fresh snapshot that also sees what this command wrote: an append's
     * own events, and in READ COMMITTED the events another writer of the
     * stream committed while this append waited for the stream row (the
     * statement's snapshot predates them; a replay from it would skip them).
     */
    CommandCounterIncrement();
    PushActiveSnapshot(GetTransactionSnapshot());

    ReplayBounds bounds{};
    if (upto > 0)
    {
        bounds.has_version = true;
        bounds.as_of_version = upto;
    }
    ReplayResult result;
    try
    {
        replay_stream(stream_id, reducer, &bounds, &result, rights);
    }
    catch (...)
    {
        PopActiveSnapshot();
        throw;
    }
    if (upto > 0 && result.version != upto)
    {
        PopActiveSnapshot();
        throw pg::Error(ERRCODE_DATA_CORRUPTED,
                        pg::format("stream \"%s\" has no event at version " INT64_FORMAT,
                                   text_to_cstring(stream_id), upto),
                        "", "Check the stream with chronicle.verify().");
    }
    if (result.version > 0)
        write_row(stream_id, reducer, &result, owner);
    PopActiveSnapshot();
    return result.version;
}
