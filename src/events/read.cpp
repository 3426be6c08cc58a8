/*
 * read.cpp: chronicle.stream_version and read_stream (SPEC section 2), and
 * the two C helpers of read_all, a SQL function that the planner inlines into
 * the calling query (src/events/verbs.sql, doc/events-read.md).
 *
 * read_stream runs one cached plan through SPI with a DestReceiver that writes
 * each row straight into the function's result tuplestore, passing it through
 * types_upcast on the way (SPEC section 4).  Reads write nothing, so they work
 * on a hot standby.  They run with the caller's rights (chronicle_reader has
 * SELECT on the tables).
 */
#include "events/events.h"
#include "errors.h"
#include "pg/boundary.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"

PG_FUNCTION_INFO_V1(chronicle_stream_version);
PG_FUNCTION_INFO_V1(chronicle_read_stream);
PG_FUNCTION_INFO_V1(chronicle_read_limit);
PG_FUNCTION_INFO_V1(chronicle_read_upcast);
}

namespace {

SPIPlanPtr version_plan;
SPIPlanPtr forward_plan;
SPIPlanPtr backward_plan;

const char *const VERSION_SQL =
    "SELECT s.version FROM chronicle.streams s WHERE s.stream_id OPERATOR(pg_catalog.=) $1";

const char *const FORWARD_SQL =
    "SELECT " EVENTS_COLUMNS " FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.>=) $2 "
    "ORDER BY e.version LIMIT $3";

const char *const BACKWARD_SQL =
    "SELECT " EVENTS_COLUMNS " FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.<=) $2 "
    "ORDER BY e.version DESC LIMIT $3";

/* Receives the rows of a read plan and stores them, upcast, in the result. */
struct EventSink
{
    DestReceiver pub;
    Tuplestorestate *store;
    MemoryContext scratch;
};

bool sink_receive(TupleTableSlot *slot, DestReceiver *self)
{
    EventSink *sink = (EventSink *)self;
    MemoryContext old = MemoryContextSwitchTo(sink->scratch);

    slot_getsomeattrs(slot, EV_DATA);
    int32 stored_version = DatumGetInt32(slot->tts_values[EV_TYPE_VERSION - 1]);
    int32 type_version = stored_version;
    text *type = DatumGetTextPP(slot->tts_values[EV_TYPE - 1]);
    int type_len = VARSIZE_ANY_EXHDR(type);
    char small[1024];
    char *type_str = type_len < (int)sizeof(small) ? small : (char *)palloc(type_len + 1);
    memcpy(type_str, VARDATA_ANY(type), type_len);
    type_str[type_len] = '\0';
    Jsonb *data = DatumGetJsonbP(slot->tts_values[EV_DATA - 1]);

    Jsonb *upcast = types_upcast(type_str, &type_version, data);
    if (upcast == data && type_version == stored_version)
        tuplestore_puttupleslot(sink->store, slot);
    else
    {
        slot_getallattrs(slot);
        Datum values[EV_NCOLUMNS];
        bool nulls[EV_NCOLUMNS];
        memcpy(values, slot->tts_values, sizeof(values));
        memcpy(nulls, slot->tts_isnull, sizeof(nulls));
        values[EV_TYPE_VERSION - 1] = Int32GetDatum(type_version);
        values[EV_DATA - 1] = JsonbPGetDatum(upcast);
        tuplestore_putvalues(sink->store, slot->tts_tupleDescriptor, values, nulls);
    }
    MemoryContextSwitchTo(old);
    MemoryContextReset(sink->scratch);
    return true;
}

void sink_startup(DestReceiver *, int, TupleDesc) {}
void sink_shutdown(DestReceiver *) {}
void sink_destroy(DestReceiver *) {}

/* Run a read plan into the function's materialized result set. */
void read_into_result(FunctionCallInfo fcinfo, SPIPlanPtr *slot, const char *sql, int nargs,
                      const Oid *argtypes, Datum *args, const char *nulls)
{
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = events_plan(slot, sql, nargs, argtypes);

    EventSink sink;
    memset(&sink, 0, sizeof(sink));
    sink.pub.receiveSlot = sink_receive;
    sink.pub.rStartup = sink_startup;
    sink.pub.rShutdown = sink_shutdown;
    sink.pub.rDestroy = sink_destroy;
    sink.pub.mydest = DestTuplestore; /* not DestNone: SPI would report a discarded SELECT */
    sink.store = rsinfo->setResult;
    sink.scratch = AllocSetContextCreate(CurrentMemoryContext, "chronicle read row",
                                         ALLOCSET_SMALL_SIZES);

    ParamListInfo params = makeParamList(nargs);
    for (int i = 0; i < nargs; i++)
    {
        ParamExternData *p = &params->params[i];
        p->value = args[i];
        p->isnull = nulls[i] == 'n';
        p->pflags = PARAM_FLAG_CONST;
        p->ptype = argtypes[i];
    }
    SPIExecuteOptions options;
    memset(&options, 0, sizeof(options));
    options.params = params;
    options.read_only = true;
    options.dest = &sink.pub;
    int rc = SPI_execute_plan_extended(plan, &options);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: read failed: %s", SPI_result_code_string(rc));
    SPI_finish();
}

text *stream_arg(FunctionCallInfo fcinfo)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "stream_id must not be NULL");
    return PG_GETARG_TEXT_PP(0);
}

} // namespace

/* chronicle.stream_version(stream_id) */
Datum chronicle_stream_version(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        text *stream = stream_arg(fcinfo);
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "chronicle: SPI_connect failed");
        static const Oid argtypes[1] = {TEXTOID};
        SPIPlanPtr plan = events_plan(&version_plan, VERSION_SQL, 1, argtypes);
        Datum args[1] = {PointerGetDatum(stream)};
        if (SPI_execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
            elog(ERROR, "chronicle: stream_version failed");
        int64 version = 0;
        if (SPI_processed == 1)
        {
            bool isnull;
            version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        }
        SPI_finish();
        return Int64GetDatum(version);
    });
}

/* chronicle.read_stream(stream_id, from_version, max_count, backward) */
Datum chronicle_read_stream(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        text *stream = stream_arg(fcinfo);
        bool backward = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
        int64 from = backward ? PG_INT64_MAX : 1;
        if (!PG_ARGISNULL(1))
        {
            from = PG_GETARG_INT64(1);
            if (from < 0)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("from_version must not be negative (got %lld)", (long long)from));
        }
        char nulls[3] = {' ', ' ', 'n'};
        Datum limit = 0;
        if (!PG_ARGISNULL(2))
        {
            int32 max_count = PG_GETARG_INT32(2);
            if (max_count < 0)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("max_count must not be negative (got %d)", max_count));
            limit = Int64GetDatum(max_count);
            nulls[2] = ' ';
        }
        static const Oid argtypes[3] = {TEXTOID, INT8OID, INT8OID};
        Datum args[3] = {PointerGetDatum(stream), Int64GetDatum(from), limit};
        if (backward)
            read_into_result(fcinfo, &backward_plan, BACKWARD_SQL, 3, argtypes, args, nulls);
        else
            read_into_result(fcinfo, &forward_plan, FORWARD_SQL, 3, argtypes, args, nulls);
        return (Datum)0;
    });
}

/*
 * chronicle._read_limit(max_count): read_all's LIMIT.  NULL means the default
 * page of 1000; a negative count is 22023, as it always was (a bare LIMIT -1
 * would raise 2201W instead).
 */
Datum chronicle_read_limit(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        if (PG_ARGISNULL(0))
            return Int64GetDatum(1000);
        int32 max_count = PG_GETARG_INT32(0);
        if (max_count < 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("max_count must not be negative (got %d)", max_count));
        return Int64GetDatum(max_count);
    });
}

/*
 * chronicle._read_upcast(type, type_version, data, OUT type_version, OUT data):
 * the row's (type_version, data) after types_upcast, or NULL when no upcaster
 * applies, so that the common case builds no tuple and copies no data.  The
 * frame holds no C++ objects: the PostgreSQL calls here may ereport directly.
 */
Datum chronicle_read_upcast(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        text *type = PG_GETARG_TEXT_PP(0);
        int32 stored_version = PG_GETARG_INT32(1);
        Jsonb *data = PG_GETARG_JSONB_P(2);

        int type_len = VARSIZE_ANY_EXHDR(type);
        char small[256];
        char *type_str = type_len < (int)sizeof(small) ? small : (char *)palloc(type_len + 1);
        memcpy(type_str, VARDATA_ANY(type), type_len);
        type_str[type_len] = '\0';

        int32 type_version = stored_version;
        Jsonb *upcast = types_upcast(type_str, &type_version, data);
        if (upcast == data && type_version == stored_version)
            PG_RETURN_NULL();

        /* The result descriptor, built once per call site. */
        TupleDesc desc = (TupleDesc)fcinfo->flinfo->fn_extra;
        if (desc == NULL)
        {
            MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
            if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
                elog(ERROR, "chronicle._read_upcast must return a record");
            desc = BlessTupleDesc(desc);
            MemoryContextSwitchTo(old);
            fcinfo->flinfo->fn_extra = desc;
        }
        Datum values[2] = {Int32GetDatum(type_version), JsonbPGetDatum(upcast)};
        bool nulls[2] = {false, false};
        return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
}
