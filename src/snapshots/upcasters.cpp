/*
 * upcasters.cpp: the trigger on chronicle.upcasters that deletes the
 * snapshots an upcaster change makes stale.
 *
 * An upcaster changes what a replay reads from stored events, so a snapshot
 * that includes an event it applies to no longer equals a full replay.
 * Snapshot writers hold ROW EXCLUSIVE on chronicle.snapshots from before
 * their replay reads upcasters and events; this trigger takes SHARE first,
 * so a snapshot computed with the old upcasters has committed by the time
 * the DELETE runs, and one not yet started waits for this transaction and
 * then sees the new upcaster.  The DELETE reads with the latest snapshot,
 * taken after that lock: in REPEATABLE READ the transaction's own snapshot
 * would miss a snapshot row committed while it waited.
 */
#include "pg/boundary.h"
#include "snapshots/catalog.h"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(chronicle_snapshots_upcaster_changed);
}

static SPIPlanPtr keep(const char *sql, int nargs, Oid *types)
{
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (!plan)
        elog(ERROR, "chronicle: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    return plan;
}

static void run_latest(SPIPlanPtr plan, Datum *args, int expected)
{
    int rc = SPI_execute_snapshot(plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
    if (rc != expected)
        elog(ERROR, "chronicle: deleting stale snapshots failed: %s", SPI_result_code_string(rc));
}

/* Delete the snapshots that include an event of `type` at or below `from_version`. */
static void delete_for(HeapTuple row, TupleDesc desc)
{
    static SPIPlanPtr plan = nullptr;
    if (!plan)
    {
        Oid types[2] = {TEXTOID, INT4OID};
        plan = keep("DELETE FROM chronicle.snapshots s"
                    " USING (SELECT e.stream_id, pg_catalog.min(e.version) AS first_version"
                    "        FROM chronicle.events e"
                    "        WHERE e.type OPERATOR(pg_catalog.=) $1"
                    "          AND e.type_version OPERATOR(pg_catalog.<=) $2"
                    "        GROUP BY e.stream_id) f"
                    " WHERE s.stream_id OPERATOR(pg_catalog.=) f.stream_id"
                    "   AND s.version OPERATOR(pg_catalog.>=) f.first_version",
                    2, types);
    }
    bool type_null, version_null;
    Datum args[2] = {SPI_getbinval(row, desc, SPI_fnumber(desc, "type"), &type_null),
                     SPI_getbinval(row, desc, SPI_fnumber(desc, "from_version"), &version_null)};
    if (type_null || version_null)
        return;
    run_latest(plan, args, SPI_OK_DELETE);
}

static bool any_snapshot(void)
{
    static SPIPlanPtr plan = nullptr;
    if (!plan)
        plan = keep("SELECT FROM chronicle.snapshots LIMIT 1", 0, nullptr);
    run_latest(plan, nullptr, SPI_OK_SELECT);
    return SPI_processed > 0;
}

Datum chronicle_snapshots_upcaster_changed(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        if (!CALLED_AS_TRIGGER(fcinfo))
            throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "chronicle._snapshots_upcaster_changed() must be called as a trigger");
        TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
        TriggerEvent event = trigger->tg_event;
        TupleDesc desc = RelationGetDescr(trigger->tg_relation);
        const SnapshotsCatalog *cat = pg::guard([&] { return snapshots_catalog(); });
        Oid owner = cat->owner;
        Oid relid = cat->snapshots;

        pg::guard([&] {
            LockRelationOid(relid, ShareLock);
            if (SPI_connect() != SPI_OK_CONNECT)
                elog(ERROR, "chronicle: SPI_connect failed");
            /* As the owner of chronicle.snapshots: whoever defines upcasters cannot write it. */
            Oid save_user;
            int save_sec;
            GetUserIdAndSecContext(&save_user, &save_sec);
            SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
            if (TRIGGER_FIRED_BY_TRUNCATE(event))
            {
                static SPIPlanPtr all = nullptr;
                if (!all)
                    all = keep("DELETE FROM chronicle.snapshots", 0, nullptr);
                run_latest(all, nullptr, SPI_OK_DELETE);
            }
            else if (any_snapshot())
            {
                /* The row inserted or deleted; for an update, the old row and the new. */
                delete_for(trigger->tg_trigtuple, desc);
                if (TRIGGER_FIRED_BY_UPDATE(event))
                    delete_for(trigger->tg_newtuple, desc);
            }
            SetUserIdAndSecContext(save_user, save_sec);
            SPI_finish();
        });
        return PointerGetDatum(nullptr);
    });
}
