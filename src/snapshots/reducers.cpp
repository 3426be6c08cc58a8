/*
 * reducers.cpp: the trigger on chronicle.reducers that deletes the
 * snapshots a change of a reducer's row makes wrong.
 *
 * A snapshot is used when its revision equals the reducer's current one, so
 * (name, revision) must always mean one definition.  define_reducer keeps
 * that (it raises the revision whenever the rules or the function change),
 * but the owner's direct writes need not: a row deleted and defined again
 * starts over at revision 1, and an UPDATE of `rules` or `fn` may keep the
 * revision.  The snapshots of the old definition would then be taken for the
 * new one's.  This trigger deletes them (the WHEN clauses in snapshots.sql
 * leave define_reducer's own upserts alone), with the locking of
 * upcasters.cpp: SHARE on chronicle.snapshots first, so a snapshot computed
 * from the old definition has committed, and a DELETE in the latest
 * snapshot, so it is seen even from REPEATABLE READ.
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

PG_FUNCTION_INFO_V1(chronicle_snapshots_reducer_changed);
}

static SPIPlanPtr keep(const char *sql, int nargs, Oid *types)
{
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (!plan)
        elog(ERROR, "chronicle: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    return plan;
}

static void run_latest(SPIPlanPtr plan, Datum *args)
{
    int rc = SPI_execute_snapshot(plan, args, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
    if (rc != SPI_OK_DELETE)
        elog(ERROR, "chronicle: deleting stale snapshots failed: %s", SPI_result_code_string(rc));
}

/* Delete every snapshot of the reducer named in `row`. */
static void delete_of(HeapTuple row, TupleDesc desc)
{
    static SPIPlanPtr plan = nullptr;
    if (!plan)
    {
        Oid types[1] = {TEXTOID};
        plan = keep("DELETE FROM chronicle.snapshots s WHERE s.reducer OPERATOR(pg_catalog.=) $1", 1, types);
    }
    bool isnull;
    Datum args[1] = {SPI_getbinval(row, desc, SPI_fnumber(desc, "name"), &isnull)};
    if (!isnull)
        run_latest(plan, args);
}

Datum chronicle_snapshots_reducer_changed(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        if (!CALLED_AS_TRIGGER(fcinfo))
            throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                            "chronicle._snapshots_reducer_changed() must be called as a trigger");
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
            /* As the owner of chronicle.snapshots, restricted: nobody else writes it. */
            Oid save_user;
            int save_sec;
            GetUserIdAndSecContext(&save_user, &save_sec);
            SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
            if (TRIGGER_FIRED_BY_TRUNCATE(event))
            {
                static SPIPlanPtr all = nullptr;
                if (!all)
                    all = keep("DELETE FROM chronicle.snapshots", 0, nullptr);
                run_latest(all, nullptr);
            }
            else
            {
                /* The row deleted or updated; a renamed row's new name too. */
                delete_of(trigger->tg_trigtuple, desc);
                if (TRIGGER_FIRED_BY_UPDATE(event))
                    delete_of(trigger->tg_newtuple, desc);
            }
            SetUserIdAndSecContext(save_user, save_sec);
            SPI_finish();
        });
        return PointerGetDatum(nullptr);
    });
}
