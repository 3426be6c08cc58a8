/*
 * read.cpp: chronicle.stream_version, read_stream and read_all (docs/reference/events.md).
 *
 * The two reads run a kept SPI plan with a DestReceiver that writes each row
 * straight into the function's result tuplestore, passing it through
 * types_upcast on the way (docs/reference/types.md); a row no upcaster changes is
 * stored as it comes from the scan.  Reads write nothing, so they work on a
 * hot standby.  They run with the caller's rights (chronicle_reader has
 * SELECT on the tables; a role without it gets 42501 from the executor).
 */
#include "events/events.h"
#include "pg/spi.h"
#include "pg/citus.h"
#include "errors.h"
#include "pg/boundary.h"
#include "pg/result_memory.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
#include "access/transam.h"
#include "utils/snapmgr.h"
#include "executor/executor.h"
}

namespace {

SPIPlanPtr version_plan;
SPIPlanPtr forward_plan;
SPIPlanPtr backward_plan;
SPIPlanPtr all_plans[4]; /* read_all, indexed by AllShape */

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

/*
 * read_all: the log strictly after ($1, $2) in (tx_id, global_position)
 * order, and only below the snapshot's xmin: every transaction under it has
 * ended, so no event can still appear there (docs/design/event-store.md, "Why `read_all` never
 * skips an event").  One statement per filter shape, so that each is a plain
 * indexed query: the category test is exactly the expression of
 * events_category_log_idx, and a shape without a filter has no test at all.
 * Parameters: $1 after_tx, $2 after_position, $3 the page size, $4 category,
 * $5 types (a shape ignores those it does not use).
 */
#define ALL_HEAD                                                                          \
    "SELECT " EVENTS_COLUMNS " FROM chronicle.events e "                                  \
    "WHERE (e.tx_id, e.global_position) OPERATOR(pg_catalog.>) ($1, $2) "                 \
    "AND e.tx_id OPERATOR(pg_catalog.<) "                                                 \
    "pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) "
#define ALL_CATEGORY "AND pg_catalog.split_part(e.stream_id, '-', 1) OPERATOR(pg_catalog.=) $4 "
#define ALL_TYPES "AND e.type OPERATOR(pg_catalog.=) ANY ($5) "
#define ALL_TAIL "ORDER BY e.tx_id, e.global_position LIMIT $3"

enum AllShape
{
    ALL_LOG = 0,
    ALL_BY_TYPES = 1,
    ALL_BY_CATEGORY = 2,
    ALL_BY_BOTH = 3
};

const char *const ALL_SQL[4] = {
    ALL_HEAD ALL_TAIL,
    ALL_HEAD ALL_TYPES ALL_TAIL,
    ALL_HEAD ALL_CATEGORY ALL_TAIL,
    ALL_HEAD ALL_CATEGORY ALL_TYPES ALL_TAIL,
};

/*
 * How the plan cache plans each shape.  Left to itself it would plan every
 * call afresh: a generic plan costs LIMIT $3 as 10% of the table, so it always
 * looks dearer than a custom plan for the actual count.  The log and types
 * shapes have one sensible plan whatever the values (Limit over an index scan
 * of events_log_idx, the types test as a filter): one generic plan, built
 * once and kept until the table's statistics change.  A category's plan does
 * depend on the value: a generic plan only knows the number of distinct
 * categories, and with few of them it scans the whole log and filters, which
 * is ruinous for a rare category; a plan for the actual value uses
 * events_category_log_idx (or, for a category that is most of the log, the
 * log index and a filter, which then reads barely more rows).  So the
 * category shapes are planned at each call (about a tenth of a 1000-row page).
 */
const int ALL_CURSOR_OPTIONS[4] = {
    CURSOR_OPT_GENERIC_PLAN,
    CURSOR_OPT_GENERIC_PLAN,
    CURSOR_OPT_CUSTOM_PLAN,
    CURSOR_OPT_CUSTOM_PLAN,
};

/* Stores one row of chronicle.events, upcast, in the result (scratch: reset by the caller). */
void store_upcast(Tuplestorestate *store, TupleTableSlot *slot)
{
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
    text *stream = DatumGetTextPP(slot->tts_values[EV_STREAM_ID - 1]);

    /* Receipts are read as stored (row/event_row.h). */
    Jsonb *upcast = event_row_is_receipt(VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream))
                        ? data
                        : types_upcast(type_str, &type_version, data);
    if (upcast == data && type_version == stored_version)
        tuplestore_puttupleslot(store, slot);
    else
    {
        slot_getallattrs(slot);
        Datum values[EV_NCOLUMNS];
        bool nulls[EV_NCOLUMNS];
        memcpy(values, slot->tts_values, sizeof(values));
        memcpy(nulls, slot->tts_isnull, sizeof(nulls));
        values[EV_TYPE_VERSION - 1] = Int32GetDatum(type_version);
        values[EV_DATA - 1] = JsonbPGetDatum(upcast);
        tuplestore_putvalues(store, slot->tts_tupleDescriptor, values, nulls);
    }
}

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
    store_upcast(sink->store, slot);
    MemoryContextSwitchTo(old);
    MemoryContextReset(sink->scratch);
    return true;
}

/*
 * events_read_sorted_into's receiver: keeps the first `limit` rows in
 * (tx_id, global_position) order, as copies.  Until `limit` rows are kept
 * they are appended as they come (noting whether they still come in order:
 * a bitmap scan returns them in heap order, which is mostly log order, and
 * then there is nothing to sort); from then on the kept rows are a max-heap
 * on that key (the greatest on top, replaced by any smaller row).  Memory
 * stays bounded by the limit however many rows the plan returns, as the
 * bounded sort of ORDER BY ... LIMIT does.
 */
struct KeptRow
{
    uint64 tx_id;
    int64 position;
    HeapTuple tuple;
};

struct SortingSink
{
    DestReceiver pub;
    KeptRow *rows;
    int64 n;
    int64 max; /* allocated */
    int64 limit;
    bool in_order; /* rows[0..n) ascending (while not a heap) */
    bool heap;     /* rows[0..n) is a max-heap */
    EventsLogRange range;
    MemoryContext keep; /* the copies */
    TupleDesc desc;
};

inline bool row_less(const KeptRow &a, const KeptRow &b)
{
    return a.tx_id < b.tx_id || (a.tx_id == b.tx_id && a.position < b.position);
}

void heap_sift_down(KeptRow *rows, int64 n, int64 i)
{
    for (;;)
    {
        int64 largest = i, l = 2 * i + 1, r = l + 1;
        if (l < n && row_less(rows[largest], rows[l]))
            largest = l;
        if (r < n && row_less(rows[largest], rows[r]))
            largest = r;
        if (largest == i)
            return;
        KeptRow t = rows[i];
        rows[i] = rows[largest];
        rows[largest] = t;
        i = largest;
    }
}

void heapify(KeptRow *rows, int64 n)
{
    for (int64 i = n / 2 - 1; i >= 0; i--)
        heap_sift_down(rows, n, i);
}

/* rows[0..n) ascending. */
void sort_kept(SortingSink *sink)
{
    if (!sink->heap)
    {
        if (sink->in_order)
            return;
        heapify(sink->rows, sink->n);
    }
    for (int64 end = sink->n - 1; end > 0; end--)
    {
        KeptRow t = sink->rows[0];
        sink->rows[0] = sink->rows[end];
        sink->rows[end] = t;
        heap_sift_down(sink->rows, end, 0);
    }
}

bool sorting_receive(TupleTableSlot *slot, DestReceiver *self)
{
    SortingSink *sink = (SortingSink *)self;
    if (sink->limit == 0)
        return true;
    slot_getsomeattrs(slot, EV_TX_ID);
    KeptRow row;
    row.tx_id = U64FromFullTransactionId(DatumGetFullTransactionId(slot->tts_values[EV_TX_ID - 1]));
    row.position = DatumGetInt64(slot->tts_values[EV_GLOBAL_POSITION - 1]);
    const EventsLogRange *range = &sink->range;
    if (row.tx_id >= range->below_tx ||
        row.tx_id < range->after_tx || (row.tx_id == range->after_tx && row.position <= range->after_position))
        return true; /* not (after the position and below the horizon) */
    if (sink->n == sink->limit)
    {
        if (!sink->heap)
        {
            heapify(sink->rows, sink->n);
            sink->heap = true;
        }
        if (!row_less(row, sink->rows[0]))
            return true; /* after every kept row */
    }
    MemoryContext old = MemoryContextSwitchTo(sink->keep);
    /* A copy: the plan's descriptor goes with the executor's memory, before the rows are stored. */
    if (sink->desc == NULL)
        sink->desc = CreateTupleDescCopy(slot->tts_tupleDescriptor);
    row.tuple = ExecCopySlotHeapTuple(slot);
    MemoryContextSwitchTo(old);
    if (sink->heap)
    {
        heap_freetuple(sink->rows[0].tuple);
        sink->rows[0] = row;
        heap_sift_down(sink->rows, sink->n, 0);
        return true;
    }
    if (sink->n == sink->max)
    {
        sink->max = Min(sink->max * 2, sink->limit);
        sink->rows = (KeptRow *)repalloc(sink->rows, sizeof(KeptRow) * sink->max);
    }
    if (sink->n > 0 && !row_less(sink->rows[sink->n - 1], row))
        sink->in_order = false;
    sink->rows[sink->n++] = row;
    return true;
}

void sink_startup(DestReceiver *, int, TupleDesc) {}
void sink_shutdown(DestReceiver *) {}
void sink_destroy(DestReceiver *) {}

/* A receiver of the read's rows, whose receiveSlot keeps them. */
void sink_init(DestReceiver *pub, bool (*receive)(TupleTableSlot *, DestReceiver *))
{
    pub->receiveSlot = receive;
    pub->rStartup = sink_startup;
    pub->rShutdown = sink_shutdown;
    pub->rDestroy = sink_destroy;
    pub->mydest = DestTuplestore; /* not DestNone: SPI would report a discarded SELECT */
}

/* Run a read plan into the function's materialized result set. */
void read_into_result(FunctionCallInfo fcinfo, SPIPlanPtr *slot, const char *sql,
                      int cursor_options, int nargs, const Oid *argtypes, Datum *args,
                      const char *nulls)
{
    Tuplestorestate *store = pg::begin_warm_result(fcinfo);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = pg::spi::kept_plan(slot, sql, nargs, argtypes, cursor_options);
    events_read_into(plan, nargs, argtypes, args, nulls, store);
    SPI_finish();
}

/*
 * read_all (and read_query) on a Citus cluster (docs/design/citus.md): this
 * node's log, the events of the shards placed here, below this node's
 * snapshot xmin.  The statement names the shards themselves (plain tables
 * here), so Citus plans nothing and the horizon is this node's; it is
 * prepared per call, since the shards placed here change with rebalancing.
 */
void read_node_log(FunctionCallInfo fcinfo, const char *sql, int cursor_options, int nargs,
                   const Oid *argtypes, Datum *args, const char *nulls)
{
    char *node_sql = events_node_log_sql(sql);
    Tuplestorestate *store = pg::begin_warm_result(fcinfo);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = pg::spi::prepare(node_sql, nargs, argtypes, cursor_options);
    events_read_into(plan, nargs, argtypes, args, nulls, store);
    SPI_finish();
}

text *stream_arg(FunctionCallInfo fcinfo)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "stream_id must not be NULL");
    return PG_GETARG_TEXT_PP(0);
}

} // namespace

bool events_distributed(void)
{
    return pg::citus::installed() &&
           pg::citus::is_citus_table(get_relname_relid("events", get_namespace_oid("chronicle", false)));
}

bool event_row_distributed_receipts(void)
{
    return events_distributed();
}

char *events_receipts_stream(text *stream)
{
    if (!events_distributed())
        return pstrdup(EVENT_RECEIPTS_STREAM);
    return pg::citus::colocated_name(get_relname_relid("events", get_namespace_oid("chronicle", false)), stream,
                                     EVENT_RECEIPTS_PREFIX);
}

char *events_node_log_sql(const char *sql)
{
    Oid events = get_relname_relid("events", get_namespace_oid("chronicle", false));
    char *from = pg::citus::local_shards_from_item(events);
    if (from == NULL)
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("this node holds no shard of chronicle.events: its log is empty"),
                 errdetail("On a Citus cluster each node has a log of its own: the events of the shards it holds, "
                           "ordered by that node's transaction ids."),
                 errhint("Read the log on each worker, or with chronicle.read_all_nodes on the coordinator.")));
    const char *table = "FROM chronicle.events e ";
    const char *at = strstr(sql, table);
    if (at == NULL)
        elog(ERROR, "chronicle: log statement without its table");
    return psprintf("%.*sFROM %s e %s", (int)(at - sql), sql, from, at + strlen(table));
}

namespace {

/* Run a read plan (SPI connected, read-only: the active snapshot) into dest. */
void run_read(SPIPlanPtr plan, int nargs, const Oid *argtypes, const Datum *args, const char *nulls,
              DestReceiver *dest)
{
    ParamListInfo params = makeParamList(nargs);
    for (int i = 0; i < nargs; i++)
    {
        ParamExternData *p = &params->params[i];
        p->value = args[i];
        p->isnull = nulls && nulls[i] == 'n';
        p->pflags = PARAM_FLAG_CONST;
        p->ptype = argtypes[i];
    }
    SPIExecuteOptions options;
    memset(&options, 0, sizeof(options));
    options.params = params;
    options.read_only = true;
    options.dest = dest;
    int rc = pg::spi::execute_plan_extended(plan, &options);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: read failed: %s", SPI_result_code_string(rc));
}

} // namespace

void events_read_into(SPIPlanPtr plan, int nargs, const Oid *argtypes, const Datum *args,
                      const char *nulls, Tuplestorestate *store)
{
    EventSink sink;
    memset(&sink, 0, sizeof(sink));
    sink_init(&sink.pub, sink_receive);
    sink.store = store;
    sink.scratch = AllocSetContextCreate(CurrentMemoryContext, "chronicle read row",
                                         ALLOCSET_SMALL_SIZES);
    run_read(plan, nargs, argtypes, args, nulls, &sink.pub);
    MemoryContextDelete(sink.scratch);
}

void events_read_sorted_into(SPIPlanPtr plan, int nargs, const Oid *argtypes, const Datum *args,
                             const char *nulls, const EventsLogRange *range, int64 limit,
                             Tuplestorestate *store)
{
    SortingSink sink;
    memset(&sink, 0, sizeof(sink));
    sink_init(&sink.pub, sorting_receive);
    sink.limit = limit;
    sink.range = *range;
    sink.in_order = true;
    sink.max = Max(Min(limit, 64), 1);
    sink.keep = AllocSetContextCreate(CurrentMemoryContext, "chronicle sorted read", ALLOCSET_DEFAULT_SIZES);
    sink.rows = (KeptRow *)MemoryContextAlloc(sink.keep, sizeof(KeptRow) * sink.max);
    run_read(plan, nargs, argtypes, args, nulls, &sink.pub);

    sort_kept(&sink);
    if (sink.n > 0)
    {
        MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "chronicle read row",
                                                      ALLOCSET_SMALL_SIZES);
        TupleTableSlot *slot = MakeSingleTupleTableSlot(sink.desc, &TTSOpsHeapTuple);
        for (int64 i = 0; i < sink.n; i++)
        {
            ExecStoreHeapTuple(sink.rows[i].tuple, slot, false);
            MemoryContext old = MemoryContextSwitchTo(scratch);
            store_upcast(store, slot);
            MemoryContextSwitchTo(old);
            MemoryContextReset(scratch);
            ExecClearTuple(slot);
        }
        ExecDropSingleTupleTableSlot(slot);
        MemoryContextDelete(scratch);
    }
    MemoryContextDelete(sink.keep);
}

FullTransactionId events_horizon(void)
{
    /*
     * pg_snapshot_xmin(pg_current_snapshot()): the active snapshot's xmin,
     * widened to a full transaction id as xid8funcs.c widens it (relative to
     * the next full transaction id, whose epoch it shares unless it is
     * numerically above the next xid, then it is of the epoch before).
     */
    Snapshot snapshot = GetActiveSnapshot();
    if (snapshot == NULL)
        elog(ERROR, "chronicle: no active snapshot");
    FullTransactionId next = ReadNextFullTransactionId();
    TransactionId xid = snapshot->xmin;
    if (!TransactionIdIsNormal(xid))
        return FullTransactionIdFromEpochAndXid(0, xid);
    uint32 epoch = EpochFromFullTransactionId(next);
    if (xid > XidFromFullTransactionId(next))
        epoch--;
    return FullTransactionIdFromEpochAndXid(epoch, xid);
}

/* chronicle.stream_version(stream_id) */
SQL_FUNCTION(chronicle_stream_version)
{
    text *stream = stream_arg(fcinfo);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&version_plan, VERSION_SQL, 1, argtypes);
    Datum args[1] = {PointerGetDatum(stream)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: stream_version failed");
    int64 version = 0;
    if (SPI_processed == 1)
    {
        bool isnull;
        version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
    return Int64GetDatum(version);
}

/* chronicle.read_stream(stream_id, from_version, max_count, backward) */
SQL_FUNCTION(chronicle_read_stream)
{
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
        read_into_result(fcinfo, &backward_plan, BACKWARD_SQL, 0, 3, argtypes, args, nulls);
    else
        read_into_result(fcinfo, &forward_plan, FORWARD_SQL, 0, 3, argtypes, args, nulls);
    return (Datum)0;
}

/*
 * chronicle.read_all(after_tx, after_position, max_count, category, types).
 * NULL arguments mean the defaults ('0', 0, 1000, no filter); a negative
 * max_count is 22023.
 */
SQL_FUNCTION(chronicle_read_all)
{
    int32 max_count = PG_ARGISNULL(2) ? 1000 : PG_GETARG_INT32(2);
    if (max_count < 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("max_count must not be negative (got %d)", max_count));
    bool by_category = !PG_ARGISNULL(3);
    bool by_types = !PG_ARGISNULL(4);
    int shape = (by_category ? ALL_BY_CATEGORY : 0) | (by_types ? ALL_BY_TYPES : 0);

    static const Oid argtypes[5] = {XID8OID, INT8OID, INT8OID, TEXTOID, TEXTARRAYOID};
    Datum args[5] = {
        PG_ARGISNULL(0) ? FullTransactionIdGetDatum(FullTransactionIdFromU64(0)) : PG_GETARG_DATUM(0),
        PG_ARGISNULL(1) ? Int64GetDatum(0) : PG_GETARG_DATUM(1),
        Int64GetDatum(max_count),
        by_category ? PG_GETARG_DATUM(3) : (Datum)0,
        by_types ? PG_GETARG_DATUM(4) : (Datum)0,
    };
    const char nulls[5] = {' ', ' ', ' ', by_category ? ' ' : 'n', by_types ? ' ' : 'n'};
    if (events_distributed())
        read_node_log(fcinfo, ALL_SQL[shape], ALL_CURSOR_OPTIONS[shape], 5, argtypes, args, nulls);
    else
        read_into_result(fcinfo, &all_plans[shape], ALL_SQL[shape], ALL_CURSOR_OPTIONS[shape], 5,
                         argtypes, args, nulls);
    return (Datum)0;
}
