/*
 * result_memory.cpp: materialized results in memory lent from a per-backend
 * pool (result_memory.h).
 */
#include "pg/result_memory.h"

extern "C" {
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/memutils.h"
}

/*
 * Why (result_memory.h): a page of 1000 events, or a subtree of a few
 * thousand rows, is a few hundred kilobytes, and fresh pages for it cost more
 * than the scan that fills them (docs/design/event-store.md, "read_all: a C function with warm
 * result memory").  So each call site gets a memory context of its
 * own from a small pool of this backend, and gives it back when its
 * per-query memory goes away: the caller's scan has freed the rows by then,
 * and the next read writes its rows into the same, already mapped, blocks.
 *
 * The tuplestore cannot outlive that per-query memory: it is where
 * InitMaterializedSRF itself would put it, and the caller's scan ends the
 * tuplestore before its query's memory is freed.  A query that fails
 * abandons its results instead; the executor then never calls its shutdown
 * callbacks, so a result whose callback has not run marks the context for
 * emptying.  So does a context grown past RESULT_KEEP (a huge page, or the
 * rare abandoned result whose callback a rescan had already run).  A lateral
 * call that is rescanned reuses its call site's context, whose freed chunks
 * take the new rows.  The pool keeps at most RESULT_POOL contexts.
 */
static constexpr Size RESULT_KEEP = 4 * 1024 * 1024;
static constexpr int RESULT_POOL = 2;
static MemoryContext result_pool[RESULT_POOL];
static int result_pooled;

struct ResultMemory
{
    MemoryContextCallback on_free; /* of the call site's per-query memory */
    MemoryContext context;
    int unfinished; /* results whose query has not shut down normally */
};

static void release_result_memory(void *arg)
{
    ResultMemory *memory = (ResultMemory *)arg;
    if (result_pooled == RESULT_POOL)
    {
        MemoryContextDelete(memory->context);
        return;
    }
    if (memory->unfinished > 0 || MemoryContextMemAllocated(memory->context, false) > RESULT_KEEP)
        MemoryContextReset(memory->context);
    result_pool[result_pooled++] = memory->context;
}

static void result_finished(Datum arg)
{
    ((ResultMemory *)DatumGetPointer(arg))->unfinished--;
}

/* The context for one more result of this call site. */
static MemoryContext result_context(FunctionCallInfo fcinfo, ExprContext *econtext)
{
    ResultMemory *memory = (ResultMemory *)fcinfo->flinfo->fn_extra;
    if (memory == NULL)
    {
        memory = (ResultMemory *)MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ResultMemory));
        if (result_pooled > 0)
            memory->context = result_pool[--result_pooled];
        else
            memory->context = AllocSetContextCreate(TopMemoryContext, "chronicle results",
                                                    ALLOCSET_DEFAULT_SIZES);
        memory->on_free.func = release_result_memory;
        memory->on_free.arg = memory;
        MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, &memory->on_free);
        fcinfo->flinfo->fn_extra = memory;
    }
    memory->unfinished++;
    RegisterExprContextCallback(econtext, result_finished, PointerGetDatum(memory));
    return memory->context;
}

/*
 * InitMaterializedSRF, with the tuplestore in result_context(); the
 * descriptor lives in the per-query memory as usual.
 */
Tuplestorestate *pg::begin_warm_result(FunctionCallInfo fcinfo)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("set-valued function called in context that cannot accept a set")));
    if (!(rsinfo->allowedModes & SFRM_Materialize) || rsinfo->expectedDesc == NULL)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("materialize mode required, but it is not allowed in this context")));

    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    TupleDesc desc = CreateTupleDescCopy(rsinfo->expectedDesc);
    MemoryContextSwitchTo(result_context(fcinfo, rsinfo->econtext));
    Tuplestorestate *store =
        tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
    MemoryContextSwitchTo(old);

    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = desc;
    return store;
}

