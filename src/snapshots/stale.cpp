/*
 * stale.cpp: the shared body of the triggers that delete stale snapshots
 * (stale.h).
 */
#include "snapshots/stale.h"

#include "errors.h"
#include "pg/spi.h"
#include "snapshots/catalog.h"

extern "C" {
#include "commands/trigger.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

void stale_run_latest(SPIPlanPtr plan, Datum *args, int expected)
{
    int rc = pg::spi::execute_snapshot(plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
    if (rc != expected)
        elog(ERROR, "chronicle: deleting stale snapshots failed: %s", SPI_result_code_string(rc));
}

void stale_trigger(FunctionCallInfo fcinfo, const char *name, bool (*worth)(void),
                   void (*per_row)(HeapTuple row, TupleDesc desc))
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("%s must be called as a trigger", name)));
    TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
    TriggerEvent event = trigger->tg_event;
    TupleDesc desc = RelationGetDescr(trigger->tg_relation);
    const SnapshotsCatalog *cat = snapshots_catalog();

    /* SHARE ROW EXCLUSIVE, not SHARE: the DELETE below needs ROW EXCLUSIVE,
     * and two triggers holding SHARE would each wait for the other's (stale.h). */
    LockRelationOid(cat->snapshots, ShareRowExclusiveLock);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(cat->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    /* An error aborts the (sub)transaction, which restores the user. */
    if (TRIGGER_FIRED_BY_TRUNCATE(event))
    {
        static SPIPlanPtr all = nullptr;
        stale_run_latest(pg::spi::kept_plan(&all, "DELETE FROM chronicle.snapshots", 0, nullptr), nullptr,
                         SPI_OK_DELETE);
    }
    else if (!worth || worth())
    {
        per_row(trigger->tg_trigtuple, desc);
        if (TRIGGER_FIRED_BY_UPDATE(event))
            per_row(trigger->tg_newtuple, desc);
    }
    SetUserIdAndSecContext(save_user, save_sec);
    SPI_finish();
}
