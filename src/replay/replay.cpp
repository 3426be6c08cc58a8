/*
 * replay.cpp: chronicle.replay(stream_id, reducer, as_of_version, as_of_time).
 *
 * Events are read in version order one at a time, so memory holds one row
 * plus the state, never the stream.  A rules reducer reads them straight
 * from the primary key index (scan.h); a function reducer, or a table the
 * direct scan leaves to the executor, through a kept SPI plan whose rows go
 * to a DestReceiver of ours.  Events' scratch memory is freed as they go
 * (in bulk on the direct path), and the state is serialised to jsonb once,
 * at the end.
 */
#include "replay/replay.h"
#include "pg/spi.h"

#include "errors.h"
#include "pg/boundary.h"
#include "replay/reducer.h"
#include "replay/scan.h"
#include "row/event_row.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/params.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

replay_start_hook_type replay_start_hook = nullptr;

static SPIPlanPtr events_plan()
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[3] = {TEXTOID, INT8OID, INT8OID};
    return pg::spi::kept_plan(&plan,
                              "SELECT " EVENTS_COLUMNS " FROM chronicle.events e"
                              " WHERE e.stream_id OPERATOR(pg_catalog.=) $1"
                              "   AND e.version OPERATOR(pg_catalog.>) $2"
                              "   AND e.version OPERATOR(pg_catalog.<=) $3"
                              " ORDER BY e.version",
                              3, types);
}

/* The state of one replay: rules state or function state. */
struct Run
{
    Reducer *r;
    text *stream_id;   /* every row's, byte for byte (= is deterministic) */
    bool receipts;     /* stream chronicle-erasures: never upcast (row/event_row.h) */
    MemoryContext cxt; /* the state lives here */
    JNode *state;       /* rules reducers */
    Jsonb *fnstate;    /* function reducers; NULL is SQL NULL */
    Oid fn_user;       /* run the function as this role (restricted), or InvalidOid: the caller */
    FmgrInfo *flinfo;  /* the reducer's cached one, or owner_flinfo */
    FmgrInfo owner_flinfo;
    TupleDesc rowdesc; /* chronicle.events, for function reducers */
    Jsonb *buf;        /* row_jsonb()'s buffer */
    Size buf_size;
    /*
     * The last event type, as a C string (types are at most 255 bytes,
     * docs/reference/events.md), and its rules: events of one type come in
     * runs, and a byte comparison is cheaper than a copy and a search per
     * event.
     */
    char type_name[256];
    int typelen; /* -1 before the first event */
    const RuleList *type_rules;
    /*
     * Whether that type has upcasters.  A rules reducer runs no user code
     * while it reads, so the upcasters cannot change under it; a function
     * reducer might define one, and asks for every event.
     */
    bool type_upcasts;
};

static Jsonb *copy_jsonb(Jsonb *j, MemoryContext cxt)
{
    Jsonb *c = static_cast<Jsonb *>(MemoryContextAlloc(cxt, VARSIZE(j)));
    memcpy(c, j, VARSIZE(j));
    return c;
}

/* Call fn(state, event) with the caller's rights; keep the result in run->cxt. */
static void call_function(Run *run, Datum row)
{
    LOCAL_FCINFO(fc, 2);
    /*
     * Run as its owner, the function gets the default collation as input
     * collation, which no SQL call of it can give (its arguments are not
     * collatable): PL/pgSQL keys its per-backend compiled functions by
     * function and input collation, and one compiled when the appender
     * called the function under the appender's search_path would have its
     * DECLAREd types resolved there (a domain `jsonb` of the appender's,
     * whose CHECK then ran as the owner).  This key is only ever compiled
     * here, under the pinned search_path.  (Variables of a collatable type
     * get the default collation, as they do without this but for a domain
     * with a COLLATE of its own.)
     */
    InitFunctionCallInfoData(*fc, run->flinfo, 2, OidIsValid(run->fn_user) ? DEFAULT_COLLATION_OID : InvalidOid,
                             nullptr, nullptr);
    fc->args[0].value = PointerGetDatum(run->fnstate);
    fc->args[0].isnull = run->fnstate == nullptr;
    fc->args[1].value = row;
    fc->args[1].isnull = false;
    Oid saved_user = InvalidOid;
    int saved_context = 0;
    if (OidIsValid(run->fn_user))
    {
        GetUserIdAndSecContext(&saved_user, &saved_context);
        SetUserIdAndSecContext(run->fn_user,
                               saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    }
    /* An error aborts the (sub)transaction, which restores the user. */
    Datum result = FunctionCallInvoke(fc);
    if (OidIsValid(run->fn_user))
        SetUserIdAndSecContext(saved_user, saved_context);
    Jsonb *next = fc->isnull ? nullptr : copy_jsonb(DatumGetJsonbP(result), run->cxt);
    if (run->fnstate)
        pfree(run->fnstate);
    run->fnstate = next;
}

/* Scratch memory the direct reader lets accumulate before a reset. */
static const Size SCRATCH_LIMIT = 64 * 1024;

/*
 * The row's data as a Jsonb.  Small values are stored with a 1-byte header,
 * which jsonb code cannot read in place (it needs the 4-byte header and its
 * alignment): they are copied into a buffer reused from row to row instead
 * of a fresh palloc each time.  Anything toasted is detoasted as usual.
 */
static Jsonb *row_jsonb(Run *run, Datum d)
{
    struct varlena *v = reinterpret_cast<struct varlena *>(DatumGetPointer(d));
    if (!VARATT_IS_1B(v) || VARATT_IS_1B_E(v))
        return DatumGetJsonbP(d);
    Size len = VARSIZE_1B(v) - VARHDRSZ_SHORT;
    if (len + VARHDRSZ > run->buf_size)
    {
        if (run->buf)
            pfree(run->buf);
        run->buf_size = Max(len + VARHDRSZ, 256);
        run->buf = static_cast<Jsonb *>(MemoryContextAlloc(run->cxt, run->buf_size));
    }
    SET_VARSIZE(run->buf, len + VARHDRSZ);
    memcpy(VARDATA(run->buf), VARDATA_1B(v), len);
    return run->buf;
}

/*
 * Apply one row.  Returns false when the row lies past the time bound, which
 * ends the replay (the state is always a prefix of the stream).
 */
static bool apply_row(Run *run, Datum *values, bool *nulls, int natts, const ReplayBounds *bounds)
{
    bool has_recorded_at = natts >= EV_RECORDED_AT;
    TimestampTz recorded_at = has_recorded_at ? DatumGetTimestampTz(values[EV_RECORDED_AT - 1]) : 0;
    if (bounds->has_time && recorded_at > bounds->as_of_time)
        return false;

    text *type = reinterpret_cast<text *>(DatumGetPointer(values[EV_TYPE - 1]));
    /* What DatumGetTextPP does, without a call per row for the usual short type. */
    if (VARATT_IS_COMPRESSED(type) || VARATT_IS_EXTERNAL(type))
        type = DatumGetTextPP(values[EV_TYPE - 1]);
    int typelen = VARSIZE_ANY_EXHDR(type);
    const CompiledRules *compiled = run->r->compiled;
    const char *type_name = run->type_name;
    const RuleList *type_rules = run->type_rules;
    bool type_upcasts = run->type_upcasts;
    if (typelen != run->typelen || node_bytes_cmp(run->type_name, VARDATA_ANY(type), typelen) != 0)
    {
        if (typelen < static_cast<int>(sizeof(run->type_name)))
        {
            memcpy(run->type_name, VARDATA_ANY(type), typelen);
            run->type_name[typelen] = '\0';
            run->typelen = typelen;
            run->type_rules = compiled ? rules_of_type(compiled, run->type_name, typelen) : nullptr;
            run->type_upcasts = types_has_upcasters(run->type_name);
            type_rules = run->type_rules;
            type_upcasts = run->type_upcasts;
        }
        else
        {
            type_name = text_to_cstring(type);
            type_rules = compiled ? rules_of_type(compiled, type_name, typelen) : nullptr;
            type_upcasts = true;
        }
    }
    int32 type_version = DatumGetInt32(values[EV_TYPE_VERSION - 1]);
    Jsonb *stored = row_jsonb(run, values[EV_DATA - 1]);
    int32 upcast_version = type_version;
    Jsonb *data = (type_upcasts || !compiled) && !run->receipts ? types_upcast(type_name, &upcast_version, stored)
                                                                : stored;

    if (compiled)
    {
        EventView ev;
        ev.reducer = run->r->name;
        ev.stream_id = run->stream_id;
        ev.has_version = true;
        ev.version = DatumGetInt64(values[EV_VERSION - 1]);
        ev.type = VARDATA_ANY(type);
        ev.typelen = typelen;
        ev.data = data;
        ev.event_id = DatumGetUUIDP(values[EV_EVENT_ID - 1]);
        ev.has_recorded_at = has_recorded_at;
        ev.recorded_at = recorded_at;
        rules_apply_list(compiled, type_rules, &run->state, &ev, run->cxt);
        return true;
    }

    Datum row_values[EV_NCOLUMNS];
    memcpy(row_values, values, sizeof(row_values));
    row_values[EV_TYPE_VERSION - 1] = Int32GetDatum(upcast_version);
    row_values[EV_DATA - 1] = JsonbPGetDatum(data);
    HeapTuple row = heap_form_tuple(run->rowdesc, row_values, nulls);
    call_function(run, HeapTupleGetDatum(row));
    return true;
}

/*
 * Rows stream from the executor straight into the reducer: no tuple is
 * copied or kept, so memory stays at the state plus one row however long the
 * stream, and the time bound stops the scan at the first row past it.
 */
struct Receiver
{
    DestReceiver pub;
    Run *run;
    const ReplayBounds *bounds;
    MemoryContext per_event;
    int64 last;
    bool found;
};

/*
 * A domain error raised while the executor is running our receiver: kept
 * here (static storage: copying raises nothing) while the scan is stopped,
 * and thrown once SPI is done, so the message carries no internal query text.
 */
static struct
{
    bool set;
    int code;
    char message[1024];
    char detail[1024];
    char hint[512];
} deferred;

static bool receive_row(TupleTableSlot *slot, DestReceiver *self)
{
    Receiver *rc = reinterpret_cast<Receiver *>(self);
    CHECK_FOR_INTERRUPTS();
    int natts = rc->run->r->compiled ? EV_RECORDED_AT : EV_NCOLUMNS;
    slot_getsomeattrs(slot, natts);

    MemoryContext old = MemoryContextSwitchTo(rc->per_event);
    bool more = false;
    /* The executor's frames are C: no C++ exception may leave this function. */
    try
    {
        more = apply_row(rc->run, slot->tts_values, slot->tts_isnull, natts, rc->bounds);
    }
    catch (const pg::Error &e)
    {
        deferred.set = true;
        deferred.code = e.code();
        pg::copy_clipped(deferred.message, sizeof(deferred.message), e.what());
        pg::copy_clipped(deferred.detail, sizeof(deferred.detail), e.detail().c_str());
        pg::copy_clipped(deferred.hint, sizeof(deferred.hint), e.hint().c_str());
    }
    catch (const std::bad_alloc &)
    {
        deferred.set = true;
        deferred.code = ERRCODE_OUT_OF_MEMORY;
        strlcpy(deferred.message, "out of memory in chronicle replay", sizeof(deferred.message));
        deferred.detail[0] = deferred.hint[0] = '\0';
    }
    catch (...)
    {
        deferred.set = true;
        deferred.code = ERRCODE_INTERNAL_ERROR;
        strlcpy(deferred.message, "unexpected C++ exception during replay", sizeof(deferred.message));
        deferred.detail[0] = deferred.hint[0] = '\0';
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(rc->per_event);
    if (more)
    {
        rc->last = DatumGetInt64(slot->tts_values[EV_VERSION - 1]);
        rc->found = true;
    }
    return more;
}

static void receiver_startup(DestReceiver *, int, TupleDesc) {}
static void receiver_shutdown(DestReceiver *) {}
static void receiver_destroy(DestReceiver *) {}

/*
 * Read through the kept plan, rows to our receiver.  A domain error raised
 * inside the executor was deferred by receive_row: thrown here, once the
 * executor is done.
 */
static void read_spi(text *stream_id, int64 after, const ReplayBounds *bounds, Receiver *rc)
{
    ParamListInfo params = makeParamList(3);
    Datum args[3] = {PointerGetDatum(stream_id), Int64GetDatum(after),
                     Int64GetDatum(bounds->has_version ? bounds->as_of_version : PG_INT64_MAX)};
    Oid types[3] = {TEXTOID, INT8OID, INT8OID};
    for (int i = 0; i < 3; i++)
    {
        params->params[i].value = args[i];
        params->params[i].isnull = false;
        params->params[i].pflags = PARAM_FLAG_CONST;
        params->params[i].ptype = types[i];
    }
    SPIExecuteOptions options{};
    options.params = params;
    options.read_only = true;
    options.dest = &rc->pub;
    deferred.set = false;
    int rcode = pg::spi::execute_plan_extended(events_plan(), &options);
    /* With a DestReceiver of our own, SPI reports a SELECT as SPI_OK_UTILITY. */
    if (rcode < 0)
        elog(ERROR, "chronicle: reading the events failed: %s", SPI_result_code_string(rcode));
    if (deferred.set)
    {
        deferred.set = false;
        throw pg::Error(deferred.code, deferred.message, deferred.detail, deferred.hint);
    }
}

/*
 * Read through the direct index scan; false when it is not usable here (the
 * caller then reads through SPI).  A domain error from the rules ends the
 * scan before it propagates: there is no executor frame to cross.
 */
static bool read_direct(Run *run, text *stream_id, const ReplayBounds *bounds, Receiver *rc)
{
    int64 upto = bounds->has_version ? bounds->as_of_version : PG_INT64_MAX;
    /* The attributes in table order up to the last one the rules read. */
    int natts = bounds->has_time || run->r->compiled->uses_recorded_at ? EV_RECORDED_AT : EV_DATA;
    /* rc->last is where the replay starts: 0, or a snapshot's version. */
    EventScan *scan = event_scan_begin(stream_id, rc->last, upto, natts);
    if (!scan)
        return false;
    MemoryContext old = CurrentMemoryContext;
    try
    {
        EventRow row;
        while (event_scan_next(scan, &row))
        {
            MemoryContextSwitchTo(rc->per_event);
            bool more = apply_row(run, row.values, row.isnull, natts, bounds);
            MemoryContextSwitchTo(old);
            /*
             * Most events leave a few bytes of scratch (numeric temporaries),
             * freed in bulk: resetting after every event would cost more
             * than the event itself, and memory stays bounded all the same.
             */
            if (rc->per_event->mem_allocated > SCRATCH_LIMIT)
                MemoryContextReset(rc->per_event);
            if (!more)
                break;
            rc->last = DatumGetInt64(row.values[EV_VERSION - 1]);
            rc->found = true;
        }
    }
    catch (const pg::Error &)
    {
        MemoryContextSwitchTo(old);
        event_scan_end(scan);
        throw;
    }
    event_scan_end(scan);
    return true;
}

void replay_stream(text *stream_id, const char *reducer, const ReplayBounds *bounds,
                   ReplayResult *result, ReducerRights rights)
{
    MemoryContext caller = CurrentMemoryContext;
    Run run{};
    run.stream_id = stream_id;
    run.receipts = event_row_is_receipt(VARDATA_ANY(stream_id), VARSIZE_ANY_EXHDR(stream_id));
    run.typelen = -1;
    run.cxt = AllocSetContextCreate(caller, "chronicle replay", ALLOCSET_DEFAULT_SIZES);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    run.r = reducer_get(reducer);
    reducer_pin(run.r, run.cxt);
    result->revision = run.r->revision;
    if (!run.r->compiled)
    {
        /* Asked for by a role that is not the function's (reducer.h). */
        if (rights == REDUCER_AS_CALLER && OidIsValid(reducer_runs_as(run.r)))
            rights = REDUCER_AS_FUNCTION_OWNER;
        if (rights == REDUCER_AS_FUNCTION_OWNER)
        {
            HeapTuple proc = OidIsValid(run.r->fn) ? SearchSysCache1(PROCOID, ObjectIdGetDatum(run.r->fn)) : nullptr;
            if (HeapTupleIsValid(proc))
            {
                run.fn_user = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->proowner;
                ReleaseSysCache(proc);
            }
            if (!OidIsValid(run.fn_user))
                throw pg::Error(CHRONICLE_INVALID_REDUCER,
                                pg::format("function %s of reducer \"%s\" does not exist",
                                           run.r->fn_text ? run.r->fn_text : "?", run.r->name),
                                "", "Define the reducer again with an existing function.");
        }
        reducer_check_function(run.r, OidIsValid(run.fn_user) ? run.fn_user : GetUserId());
        run.flinfo = &run.r->flinfo;
        TupleDesc desc = lookup_rowtype_tupdesc(events_rowtype(), -1);
        MemoryContext old = MemoryContextSwitchTo(run.cxt);
        run.rowdesc = CreateTupleDescCopy(desc);
        MemoryContextSwitchTo(old);
        ReleaseTupleDesc(desc);
    }

    bool found = false;
    int64 after = 0;
    Jsonb *start = nullptr;
    if (replay_start_hook && replay_start_hook(stream_id, reducer, run.r->revision, bounds, &start, &after))
        found = true;
    if (run.r->compiled)
        run.state = found && start ? node_from_jsonb(start, run.cxt)
                                   : rules_initial_state(run.r->compiled, run.cxt);
    else if (found && start)
        run.fnstate = copy_jsonb(start, run.cxt);

    Receiver rc{};
    rc.pub.receiveSlot = receive_row;
    rc.pub.rStartup = receiver_startup;
    rc.pub.rShutdown = receiver_shutdown;
    rc.pub.rDestroy = receiver_destroy;
    rc.pub.mydest = DestNone;
    rc.run = &run;
    rc.bounds = bounds;
    rc.per_event = AllocSetContextCreate(run.cxt, "chronicle replay event", ALLOCSET_DEFAULT_SIZES);
    rc.last = after;
    rc.found = found;

    /*
     * The function as its owner: with an FmgrInfo of its own, since the
     * cached one's fn_extra may hold a SQL function's body parsed under an
     * earlier caller's search_path, whose operators would then run as the
     * owner; and under search_path = pg_catalog, pg_temp, so that nothing
     * of the session's path is handed to it (as PostgreSQL 17 runs a table
     * owner's code during maintenance).  An error aborts the
     * (sub)transaction, which restores the setting.  (A function reducer
     * always runs under the pinned path when chronicle calls it: read_spi's
     * receiver calls it inside the pinned execution, src/pg/spi.h.)
     */
    int guc_nest = -1;
    if (OidIsValid(run.fn_user))
    {
        fmgr_info_cxt(run.r->fn, &run.owner_flinfo, run.cxt);
        run.flinfo = &run.owner_flinfo;
        /* A sandbox, not only a pin: what the owner's function SETs (its
         * search_path, say) must not outlive it in the caller's session. */
        guc_nest = pg::spi::sandbox_begin();
    }
    try
    {
        if (!run.r->compiled || !read_direct(&run, stream_id, bounds, &rc))
            read_spi(stream_id, after, bounds, &rc);
    }
    catch (const pg::Error &)
    {
        if (guc_nest >= 0)
            pg::spi::sandbox_end(guc_nest);
        SPI_finish();
        MemoryContextDelete(run.cxt);
        throw;
    }
    if (guc_nest >= 0)
        pg::spi::sandbox_end(guc_nest);
    SPI_finish();

    /* Back in the caller's context: the result outlives the replay's memory. */
    result->version = rc.last;
    result->state = nullptr;
    if (rc.found)
    {
        if (run.r->compiled)
            result->state = node_to_jsonb(run.state);
        else if (run.fnstate)
            result->state = copy_jsonb(run.fnstate, caller);
    }
    MemoryContextDelete(run.cxt);
}

SQL_FUNCTION(chronicle_replay)
{
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        PG_RETURN_NULL();
    ReplayBounds bounds{};
    if (!PG_ARGISNULL(2))
    {
        bounds.has_version = true;
        bounds.as_of_version = PG_GETARG_INT64(2);
        if (bounds.as_of_version < 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("as_of_version must not be negative, not " INT64_FORMAT,
                                       bounds.as_of_version));
    }
    if (!PG_ARGISNULL(3))
    {
        bounds.has_time = true;
        bounds.as_of_time = PG_GETARG_TIMESTAMPTZ(3);
    }
    char *reducer = text_to_cstring(PG_GETARG_TEXT_PP(1));
    ReplayResult result;
    replay_stream(PG_GETARG_TEXT_PP(0), reducer, &bounds, &result);
    if (!result.state)
        PG_RETURN_NULL();
    PG_RETURN_JSONB_P(result.state);
}
