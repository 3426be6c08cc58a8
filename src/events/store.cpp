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
 */
#include "events/events.h"

extern "C" {
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

struct EventsStore
{
    DirectTarget target;
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

bool direct_path_possible(const DirectTarget *target, Oid streams, Oid check_fn)
{
    if (!events_direct_plain(target, event_row_types, EV_NCOLUMNS))
        return false;
    const TriggerDesc *triggers = target->rel->trigdesc;
    if (triggers != NULL)
        for (int i = 0; i < triggers->numtriggers; i++)
        {
            const Trigger *t = &triggers->triggers[i];
            if (TRIGGER_FOR_INSERT(t->tgtype) && t->tgenabled != TRIGGER_DISABLED &&
                !skippable_insert_trigger(t, streams, check_fn))
                return false;
        }
    return true;
}

} // namespace

EventsStore *events_store_begin(const EventsCatalog *catalog)
{
    DirectTarget target;
    events_direct_open(&target, catalog->events, ACL_INSERT);
    if (!direct_path_possible(&target, catalog->streams, catalog->insert_check_fn))
    {
        events_direct_close(&target);
        return NULL;
    }

    EventsStore *store = (EventsStore *)palloc(sizeof(EventsStore));
    store->target = target;
    store->slot = MakeSingleTupleTableSlot(RelationGetDescr(target.rel), &TTSOpsVirtual);
    store->position_seq = catalog->position_seq;
    return store;
}

int64 events_store_put(EventsStore *store, const Datum *values)
{
    TupleTableSlot *slot = store->slot;
    ExecClearTuple(slot);
    for (int i = 0; i < EV_NCOLUMNS; i++)
    {
        slot->tts_values[i] = values[i];
        slot->tts_isnull[i] = false;
    }
    /* values[] carries global_position: append took it before hashing (chain v2). */
    int64 position = DatumGetInt64(values[EV_GLOBAL_POSITION - 1]);
    ExecStoreVirtualTuple(slot);

    DirectTarget *t = &store->target;
    if (t->rel->rd_att->constr != NULL)
        ExecConstraints(t->rri, slot, t->estate);
    table_tuple_insert(t->rel, slot, t->estate->es_output_cid, 0, NULL);
    List *recheck = ExecInsertIndexTuples(t->rri, slot, t->estate, false, false, NULL, NIL);
    Assert(recheck == NIL); /* no deferrable index: events_direct_plain */
    list_free(recheck);
    ResetPerTupleExprContext(t->estate);
    return position;
}

void events_store_end(EventsStore *store)
{
    ExecDropSingleTupleTableSlot(store->slot);
    events_direct_close(&store->target);
    pfree(store);
    /* What the next statement of this transaction reads must see the rows. */
    CommandCounterIncrement();
}
