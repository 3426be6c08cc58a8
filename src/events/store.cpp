/*
 * store.cpp: writing new event rows through the table access method and the
 * executor's index machinery, as COPY FROM does, instead of an INSERT
 * statement run through SPI.
 *
 * Why: an INSERT statement costs an executor start-up and shut-down, a plan
 * cache check and, for each row, the foreign-key trigger's own query, which
 * locks (and WAL-logs the lock of) the chronicle.streams row that append has
 * updated a moment before.  That check cannot fail here: the row was written
 * by this transaction in this call and stays locked by it until commit, so no
 * one can delete it or change its key in between (their own RI check would
 * then find these events).  Measured with callgrind, the statement and the
 * check are about a fifth of an append.
 *
 * What is kept: heap_insert's WAL record (so physical and logical
 * replication, and pg_stat counters, see an ordinary insert), every index
 * entry with its uniqueness check (ExecInsertIndexTuples, which also
 * evaluates the category expression index), and the table's NOT NULL and
 * CHECK constraints (ExecConstraints).
 *
 * What would be skipped, so the direct path is refused and append runs the
 * INSERT statement instead: any INSERT trigger other than chronicle's own
 * check (which exists for rows append did not write) and the foreign key to
 * chronicle.streams, rules, row-level security, and deferrable unique or
 * exclusion constraints (their checks would have to be queued).  A column
 * added or dropped by the owner also sends append to the INSERT statement,
 * which names its columns.  An owner who
 * adds an audit trigger to chronicle.events therefore still sees it fire.
 *
 * C-style frames only: everything here may ereport (boundary.h, rule 2).
 */
#include "events/events.h"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

struct EventsStore
{
    Relation rel;
    EState *estate;
    ResultRelInfo *rri;
    TupleTableSlot *slot;
    Oid position_seq;
};

namespace {

/* An INSERT trigger that the direct path may leave out (see the header). */
bool skippable_insert_trigger(const Trigger *t, Oid streams, Oid check_fn)
{
    if (t->tgfoid == F_RI_FKEY_CHECK_INS)
        return t->tgconstrrelid == streams;
    return t->tgfoid == check_fn && TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_BEFORE(t->tgtype);
}

/* The columns put() fills, in the contract's order. */
const Oid column_types[EV_NCOLUMNS] = {TEXTOID,  INT8OID,  INT8OID,        UUIDOID, TEXTOID, INT4OID,
                                       JSONBOID, JSONBOID, TIMESTAMPTZOID, XID8OID, BYTEAOID};

bool direct_path_possible(Relation rel, ResultRelInfo *rri, Oid streams, Oid check_fn)
{
    if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhasrules ||
        rel->rd_rel->relrowsecurity)
        return false;
    /* Exactly the contract's columns: none added by the owner, none dropped. */
    TupleDesc desc = RelationGetDescr(rel);
    if (desc->natts != EV_NCOLUMNS)
        return false;
    for (int i = 0; i < EV_NCOLUMNS; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || att->atttypid != column_types[i] || att->attgenerated)
            return false;
    }
    if (rel->trigdesc != NULL)
        for (int i = 0; i < rel->trigdesc->numtriggers; i++)
        {
            const Trigger *t = &rel->trigdesc->triggers[i];
            if (TRIGGER_FOR_INSERT(t->tgtype) && t->tgenabled != TRIGGER_DISABLED &&
                !skippable_insert_trigger(t, streams, check_fn))
                return false;
        }
    for (int i = 0; i < rri->ri_NumIndices; i++)
    {
        Form_pg_index index = rri->ri_IndexRelationDescs[i]->rd_index;
        if (!index->indimmediate || rri->ri_IndexRelationInfo[i]->ii_ExclusionOps != NULL)
            return false;
    }
    return true;
}

} // namespace

EventsStore *events_store_begin(void)
{
    /* Looked up on every call: a cached OID would outlive DROP/CREATE EXTENSION. */
    Oid nsp = get_namespace_oid("chronicle", false);
    Oid events = get_relname_relid("events", nsp);
    Oid streams = get_relname_relid("streams", nsp);
    Oid seq = get_relname_relid("global_position_seq", nsp);
    Oid check_fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("_events_insert_check"),
                                   PointerGetDatum(buildoidvector(NULL, 0)), ObjectIdGetDatum(nsp));
    if (!OidIsValid(events) || !OidIsValid(streams) || !OidIsValid(seq))
        elog(ERROR, "chronicle: the extension's tables are missing");

    Relation rel = table_open(events, RowExclusiveLock);
    EState *estate = CreateExecutorState();
    estate->es_output_cid = GetCurrentCommandId(true);
    /* A range table of one entry, for the error paths of ExecConstraints. */
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = events;
    rte->relkind = RELKIND_RELATION;
    rte->rellockmode = RowExclusiveLock;
    rte->requiredPerms = ACL_INSERT;
    ExecInitRangeTable(estate, list_make1(rte));
    ResultRelInfo *rri = makeNode(ResultRelInfo);
    InitResultRelInfo(rri, rel, 1, NULL, 0);
    ExecOpenIndices(rri, false);

    if (!direct_path_possible(rel, rri, streams, check_fn))
    {
        ExecCloseIndices(rri);
        FreeExecutorState(estate);
        table_close(rel, NoLock);
        return NULL;
    }

    EventsStore *store = (EventsStore *)palloc(sizeof(EventsStore));
    store->rel = rel;
    store->estate = estate;
    store->rri = rri;
    store->slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
    store->position_seq = seq;
    return store;
}

void events_store_put(EventsStore *store, const Datum *values)
{
    TupleTableSlot *slot = store->slot;
    ExecClearTuple(slot);
    for (int i = 0; i < EV_NCOLUMNS; i++)
    {
        slot->tts_values[i] = values[i];
        slot->tts_isnull[i] = false;
    }
    /* nextval's own check: the sequence's USAGE/UPDATE right, held by its owner. */
    slot->tts_values[EV_GLOBAL_POSITION - 1] = Int64GetDatum(nextval_internal(store->position_seq, true));
    ExecStoreVirtualTuple(slot);

    if (store->rel->rd_att->constr != NULL)
        ExecConstraints(store->rri, slot, store->estate);
    table_tuple_insert(store->rel, slot, store->estate->es_output_cid, 0, NULL);
    List *recheck = ExecInsertIndexTuples(store->rri, slot, store->estate, false, false, NULL, NIL);
    Assert(recheck == NIL); /* no deferrable index: direct_path_possible */
    list_free(recheck);
    ResetPerTupleExprContext(store->estate);
}

void events_store_end(EventsStore *store)
{
    ExecDropSingleTupleTableSlot(store->slot);
    ExecCloseIndices(store->rri);
    FreeExecutorState(store->estate);
    table_close(store->rel, NoLock); /* the lock is kept until commit */
    pfree(store);
    /* What the next statement of this transaction reads must see the rows. */
    CommandCounterIncrement();
}
