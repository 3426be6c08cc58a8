/*
 * fold.cpp: the aggregates chronicle.fold(reducer, e) and chronicle.merge_agg(data).
 *
 * Both keep their state as a node.h tree in the aggregate's memory context
 * between rows and serialise it once per group, in the final function.  The
 * reducer is looked up once per query (and again only if a row names another
 * one); rows are upcast like every read.
 */
#include "errors.h"
#include "pg/boundary.h"
#include "pg/spi.h"
#include "pg/jsonb_root.h"
#include "replay/reducer.h"
#include "row/event_row.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/typcache.h"
}

/* Per query (flinfo->fn_extra): the reducer last named and the row layout. */
struct FoldCache
{
    text *name;
    Reducer *r;
    Oid rowtype;
    TupleDesc rowdesc;
    Oid checked_for;   /* the user fn_user and the EXECUTE check are for */
    Oid fn_user;       /* run the function as this role (restricted), or InvalidOid: the caller */
    FmgrInfo owner_flinfo;
};

/* Per group. */
struct FoldState
{
    Reducer *r;
    JNode *state;    /* rules reducers */
    Jsonb *fnstate; /* function reducers */
};

static MemoryContext aggregate_context(FunctionCallInfo fcinfo, const char *name)
{
    MemoryContext cxt;
    if (!AggCheckCallContext(fcinfo, &cxt))
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        pg::format("%s can only be called as an aggregate", name));
    return cxt;
}

static bool same_text(text *a, text *b)
{
    return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
           memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

static FoldCache *fold_cache(FunctionCallInfo fcinfo, text *name, HeapTupleHeader row)
{
    FmgrInfo *fl = fcinfo->flinfo;
    FoldCache *fc = static_cast<FoldCache *>(fl->fn_extra);
    if (!fc)
    {
        fc = static_cast<FoldCache *>(MemoryContextAllocZero(fl->fn_mcxt, sizeof(FoldCache)));
        fl->fn_extra = fc;
    }
    if (fc->rowtype != HeapTupleHeaderGetTypeId(row) || !fc->rowdesc)
    {
        TupleDesc desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row), HeapTupleHeaderGetTypMod(row));
        MemoryContext old = MemoryContextSwitchTo(fl->fn_mcxt);
        fc->rowdesc = CreateTupleDescCopy(desc);
        MemoryContextSwitchTo(old);
        ReleaseTupleDesc(desc);
        fc->rowtype = HeapTupleHeaderGetTypeId(row);
    }
    if (!fc->name || !same_text(fc->name, name) || fc->checked_for != GetUserId())
    {
        char *cname = text_to_cstring(name);
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "chronicle: SPI_connect failed");
        Reducer *r = reducer_get(cname);
        SPI_finish();
        fc->fn_user = InvalidOid;
        if (!r->compiled)
        {
            /* Another role's function runs as that role (reducer.h), with
             * an FmgrInfo of its own, as replay runs it. */
            Oid fn_user = reducer_runs_as(r);
            reducer_check_function(r, OidIsValid(fn_user) ? fn_user : GetUserId());
            if (OidIsValid(fn_user))
                fmgr_info_cxt(r->fn, &fc->owner_flinfo, fl->fn_mcxt);
            fc->fn_user = fn_user;
        }
        reducer_pin(r, fl->fn_mcxt);
        fc->r = r;
        fc->checked_for = GetUserId();
        fc->name = static_cast<text *>(MemoryContextAlloc(fl->fn_mcxt, VARSIZE_ANY(name)));
        memcpy(fc->name, name, VARSIZE_ANY(name));
    }
    return fc;
}

/* _fold_step(state internal, reducer text, e chronicle.events) */
SQL_FUNCTION(chronicle_fold_step)
{
    MemoryContext aggcxt = aggregate_context(fcinfo, "chronicle.fold");
    FoldState *st = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<FoldState *>(PG_GETARG_POINTER(0));
    /* Rows with a NULL reducer or event are skipped, as strict aggregates do. */
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
    {
        if (!st)
            PG_RETURN_NULL();
        PG_RETURN_POINTER(st);
    }
    HeapTupleHeader th = PG_GETARG_HEAPTUPLEHEADER(2);
    FoldCache *fc = fold_cache(fcinfo, PG_GETARG_TEXT_PP(1), th);
    if (!st)
    {
        st = static_cast<FoldState *>(MemoryContextAllocZero(aggcxt, sizeof(FoldState)));
        st->r = fc->r;
        if (fc->r->compiled)
            st->state = rules_initial_state(fc->r->compiled, aggcxt);
    }
    else if (st->r != fc->r)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "chronicle.fold needs the same reducer for every row of a group");

    HeapTupleData tuple;
    tuple.t_len = HeapTupleHeaderGetDatumLength(th);
    ItemPointerSetInvalid(&tuple.t_self);
    tuple.t_tableOid = InvalidOid;
    tuple.t_data = th;

    Datum values[EV_NCOLUMNS];
    bool nulls[EV_NCOLUMNS];
    int natts = fc->rowdesc->natts;
    if (natts != EV_NCOLUMNS)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        pg::format("chronicle.events has %d columns, chronicle.fold expects %d", natts,
                                   EV_NCOLUMNS));
    heap_deform_tuple(&tuple, fc->rowdesc, values, nulls);

    /* Upcast as every read does (a row that was upcast already stays as it is). */
    Jsonb *data = nulls[EV_DATA - 1] ? nullptr : DatumGetJsonbP(values[EV_DATA - 1]);
    int32 type_version = nulls[EV_TYPE_VERSION - 1] ? 1 : DatumGetInt32(values[EV_TYPE_VERSION - 1]);
    bool changed = false;
    bool receipt = !nulls[EV_STREAM_ID - 1] &&
                   event_row_is_receipt(VARDATA_ANY(DatumGetTextPP(values[EV_STREAM_ID - 1])),
                                        VARSIZE_ANY_EXHDR(DatumGetTextPP(values[EV_STREAM_ID - 1])));
    if (data && !nulls[EV_TYPE - 1] && !receipt) /* receipts: as stored (row/event_row.h) */
    {
        int32 upcast_version = type_version;
        /* Types are at most 255 bytes (docs/reference/events.md): name them without a palloc. */
        text *t = DatumGetTextPP(values[EV_TYPE - 1]);
        int len = VARSIZE_ANY_EXHDR(t);
        char buf[256];
        char *name = buf;
        if (len < static_cast<int>(sizeof(buf)))
        {
            memcpy(buf, VARDATA_ANY(t), len);
            buf[len] = '\0';
        }
        else
            name = text_to_cstring(t);
        Jsonb *up = types_upcast(name, &upcast_version, data);
        changed = up != data || upcast_version != type_version;
        data = up;
        type_version = upcast_version;
    }

    if (st->r->compiled)
    {
        EventView ev;
        text *type = nulls[EV_TYPE - 1] ? nullptr : DatumGetTextPP(values[EV_TYPE - 1]);
        ev.reducer = st->r->name;
        ev.stream_id = nulls[EV_STREAM_ID - 1] ? nullptr : DatumGetTextPP(values[EV_STREAM_ID - 1]);
        ev.has_version = !nulls[EV_VERSION - 1];
        ev.version = nulls[EV_VERSION - 1] ? 0 : DatumGetInt64(values[EV_VERSION - 1]);
        ev.type = type ? VARDATA_ANY(type) : nullptr;
        ev.typelen = type ? VARSIZE_ANY_EXHDR(type) : 0;
        ev.data = data;
        ev.event_id = nulls[EV_EVENT_ID - 1] ? nullptr : DatumGetUUIDP(values[EV_EVENT_ID - 1]);
        ev.has_recorded_at = !nulls[EV_RECORDED_AT - 1];
        ev.recorded_at = nulls[EV_RECORDED_AT - 1] ? 0 : DatumGetTimestampTz(values[EV_RECORDED_AT - 1]);
        rules_apply(st->r->compiled, &st->state, &ev, aggcxt);
        PG_RETURN_POINTER(st);
    }

    Datum row = PG_GETARG_DATUM(2);
    if (changed)
    {
        values[EV_TYPE_VERSION - 1] = Int32GetDatum(type_version);
        values[EV_DATA - 1] = JsonbPGetDatum(data);
        row = HeapTupleGetDatum(heap_form_tuple(fc->rowdesc, values, nulls));
    }
    LOCAL_FCINFO(call, 2);
    bool as_owner = OidIsValid(fc->fn_user);
    /* The owner's run gets the default collation, as replay's does (replay.cpp). */
    InitFunctionCallInfoData(*call, as_owner ? &fc->owner_flinfo : &st->r->flinfo, 2,
                             as_owner ? DEFAULT_COLLATION_OID : InvalidOid, nullptr, nullptr);
    call->args[0].value = PointerGetDatum(st->fnstate);
    call->args[0].isnull = st->fnstate == nullptr;
    call->args[1].value = row;
    call->args[1].isnull = false;
    /* As replay calls it: under the pinned path, whoever folds (src/pg/spi.h);
     * another role's function as that role, restricted, in a sandbox.
     * An error aborts the (sub)transaction, which restores both. */
    Datum result;
    if (as_owner)
    {
        int guc_nest = pg::spi::sandbox_begin();
        Oid saved_user;
        int saved_context;
        GetUserIdAndSecContext(&saved_user, &saved_context);
        SetUserIdAndSecContext(fc->fn_user,
                               saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
        result = FunctionCallInvoke(call);
        SetUserIdAndSecContext(saved_user, saved_context);
        pg::spi::sandbox_end(guc_nest);
    }
    else
    {
        int guc_nest = pg::spi::pin_begin();
        result = FunctionCallInvoke(call);
        pg::spi::pin_end(guc_nest);
    }
    Jsonb *next = nullptr;
    if (!call->isnull)
    {
        Jsonb *j = DatumGetJsonbP(result);
        next = static_cast<Jsonb *>(MemoryContextAlloc(aggcxt, VARSIZE(j)));
        memcpy(next, j, VARSIZE(j));
    }
    if (st->fnstate)
        pfree(st->fnstate);
    st->fnstate = next;
    PG_RETURN_POINTER(st);
}

/* _fold_final(state internal): read-only, so window use is safe. */
SQL_FUNCTION(chronicle_fold_final)
{
    aggregate_context(fcinfo, "chronicle.fold");
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    FoldState *st = reinterpret_cast<FoldState *>(PG_GETARG_POINTER(0));
    if (st->r->compiled)
        PG_RETURN_JSONB_P(node_to_jsonb(st->state));
    if (!st->fnstate)
        PG_RETURN_NULL();
    Jsonb *copy = static_cast<Jsonb *>(palloc(VARSIZE(st->fnstate)));
    memcpy(copy, st->fnstate, VARSIZE(st->fnstate));
    PG_RETURN_JSONB_P(copy);
}

/* merge_agg's state: the merged document; NULL until the first value. */
struct MergeState
{
    JNode *root;
};

/* _merge_step(state internal, data jsonb): RFC 7396, patch by patch. */
SQL_FUNCTION(chronicle_merge_step)
{
    MemoryContext aggcxt = aggregate_context(fcinfo, "chronicle.merge_agg");
    MergeState *st = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<MergeState *>(PG_GETARG_POINTER(0));
    if (PG_ARGISNULL(1))
    {
        if (!st)
            PG_RETURN_NULL();
        PG_RETURN_POINTER(st);
    }
    if (!st)
        st = static_cast<MergeState *>(MemoryContextAllocZero(aggcxt, sizeof(MergeState)));
    Jsonb *patch = PG_GETARG_JSONB_P(1);
    JsonbValue v = pg::jsonb_root_value(patch);
    /* The first value is the starting document, taken as it is (its nulls stay). */
    st->root = st->root ? node_merge(st->root, &v, aggcxt) : node_from_jbv(&v, aggcxt);
    PG_RETURN_POINTER(st);
}

SQL_FUNCTION(chronicle_merge_final)
{
    aggregate_context(fcinfo, "chronicle.merge_agg");
    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    MergeState *st = reinterpret_cast<MergeState *>(PG_GETARG_POINTER(0));
    PG_RETURN_JSONB_P(node_to_jsonb(st->root));
}
