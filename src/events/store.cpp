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
 * append_write_events, at the end of this file, chooses between the two:
 * the direct path, or the INSERT statement (always taken with caller-chosen
 * event_ids, whose conflicts it skips with ON CONFLICT DO NOTHING).
 */
#include "events/append.h"
#include "pg/spi.h"
#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/xid8.h"
}

struct EventsStore
{
    DirectTarget target;
    TupleTableSlot *slot;
    Oid position_seq;
    Datum no_digest; /* an empty bytea: original_digest of an event not redacted */
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

/*
 * The INSERT statements, derived from EVENT_ROW (row/event_row.h): they name
 * every column of chronicle.events in table order, and parameter $n is
 * column n.  The one-row statement takes each column's value; the many-row
 * statement takes the columns every event of one append shares (below) as
 * values and the others as arrays, one element per event, unnested side by
 * side.  tags travel as a jsonb array per event (an array of text[] of
 * different lengths is not an SQL array) and are turned back into text[].
 */
bool shared_by_the_append(int column)
{
    return column == EV_STREAM_ID || column == EV_RECORDED_AT || column == EV_TX_ID || column == EV_ORIGINAL_DIGEST;
}

/* The array type of a column's per-event parameter. */
constexpr Oid per_event_array_type(int column)
{
    switch (event_row_columns[column - 1].type)
    {
    case INT8OID:
        return INT8ARRAYOID;
    case INT4OID:
        return INT4ARRAYOID;
    case UUIDOID:
        return UUIDARRAYOID;
    case TEXTOID:
        return TEXTARRAYOID;
    case JSONBOID:
        return JSONBARRAYOID;
    case BYTEAOID:
        return BYTEAARRAYOID;
    case TEXTARRAYOID:
        return JSONBARRAYOID; /* tags: one jsonb array per event */
    }
    return InvalidOid;
}
static_assert(per_event_array_type(EV_VERSION) == INT8ARRAYOID && per_event_array_type(EV_TAGS) == JSONBARRAYOID,
              "per_event_array_type covers the column types of EVENT_ROW");

enum InsertShape
{
    INSERT_ONE,
    INSERT_MANY
};

/* Each conflict clause: none (no caller-chosen event_id), or the unique key on event_id. */
enum InsertConflict
{
    CONFLICT_NONE,
    /*
     * With caller-chosen event_ids, another stream's append may take one of
     * them concurrently (the stream lock does not cover it): skip instead of
     * failing with a unique violation, and report SE005 when a row was skipped.
     */
    CONFLICT_EVENT_ID,
    /* chronicle.distribute() replaced the unique key on event_id by (stream_id, event_id). */
    CONFLICT_EVENT_ID_CITUS
};

/* The text of one statement, built once per backend (kept in TopMemoryContext). */
const char *insert_sql(InsertShape shape, InsertConflict conflict)
{
    static const char *built[2][3];
    if (built[shape][conflict] != NULL)
        return built[shape][conflict];
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfoString(&sql, "INSERT INTO chronicle.events (");
    for (int c = 1; c <= EV_NCOLUMNS; c++)
        appendStringInfo(&sql, "%s%s", c > 1 ? ", " : "", event_row_columns[c - 1].name);
    if (shape == INSERT_ONE)
    {
        appendStringInfoString(&sql, ") VALUES (");
        for (int c = 1; c <= EV_NCOLUMNS; c++)
            appendStringInfo(&sql, "%s$%d", c > 1 ? ", " : "", c);
        appendStringInfoChar(&sql, ')');
    }
    else
    {
        appendStringInfoString(&sql, ") SELECT ");
        for (int c = 1; c <= EV_NCOLUMNS; c++)
        {
            const char *name = event_row_columns[c - 1].name;
            if (c > 1)
                appendStringInfoString(&sql, ", ");
            if (shared_by_the_append(c))
                appendStringInfo(&sql, "$%d", c);
            else if (c == EV_TAGS)
                appendStringInfo(&sql,
                                 "ARRAY(SELECT x.t FROM pg_catalog.jsonb_array_elements_text(u.%s) "
                                 "WITH ORDINALITY AS x(t, n) ORDER BY x.n)",
                                 name);
            else
                appendStringInfo(&sql, "u.%s", name);
        }
        appendStringInfoString(&sql, " FROM ROWS FROM (");
        bool first = true;
        for (int c = 1; c <= EV_NCOLUMNS; c++)
            if (!shared_by_the_append(c))
            {
                appendStringInfo(&sql, "%spg_catalog.unnest($%d)", first ? "" : ", ", c);
                first = false;
            }
        appendStringInfoString(&sql, ") AS u(");
        first = true;
        for (int c = 1; c <= EV_NCOLUMNS; c++)
            if (!shared_by_the_append(c))
            {
                appendStringInfo(&sql, "%s%s", first ? "" : ", ", event_row_columns[c - 1].name);
                first = false;
            }
        appendStringInfoChar(&sql, ')');
    }
    if (conflict == CONFLICT_EVENT_ID)
        appendStringInfoString(&sql, " ON CONFLICT (event_id) DO NOTHING");
    else if (conflict == CONFLICT_EVENT_ID_CITUS)
        appendStringInfoString(&sql, " ON CONFLICT (stream_id, event_id) DO NOTHING");
    /* Every insert reports the positions it assigned (append_events returns them). */
    appendStringInfoString(&sql, " RETURNING version, global_position");
    built[shape][conflict] = MemoryContextStrdup(TopMemoryContext, sql.data);
    pfree(sql.data);
    return built[shape][conflict];
}

/* The kept plan of one statement. */
SPIPlanPtr insert_plan(InsertShape shape, bool any_given, bool distributed)
{
    static SPIPlanPtr plans[2][3];
    InsertConflict conflict = !any_given ? CONFLICT_NONE : distributed ? CONFLICT_EVENT_ID_CITUS : CONFLICT_EVENT_ID;
    Oid argtypes[EV_NCOLUMNS];
    for (int c = 1; c <= EV_NCOLUMNS; c++)
        argtypes[c - 1] = shape == INSERT_ONE || shared_by_the_append(c) ? event_row_types[c - 1]
                                                                         : per_event_array_type(c);
    return pg::spi::kept_plan(&plans[shape][conflict], insert_sql(shape, conflict), EV_NCOLUMNS, argtypes);
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
    bytea *empty = (bytea *)palloc(VARHDRSZ);
    SET_VARSIZE(empty, VARHDRSZ);
    store->no_digest = PointerGetDatum(empty);
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
    /* An append's event is not redacted: an empty original_digest. */
    slot->tts_values[EV_ORIGINAL_DIGEST - 1] = store->no_digest;
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

namespace {

/* After an ON CONFLICT (event_id) DO NOTHING insert: were all rows written? */
void check_all_inserted(const AppendRequest *req, int expected)
{
    if (SPI_processed == (uint64)expected)
        return;
    throw pg::Error(CHRONICLE_DUPLICATE_EVENT_ID,
                    pg::format("an event_id appended to stream \"%.*s\" was stored concurrently in another stream",
                               req->stream_len, req->stream_id),
                    "An event_id identifies one event of one stream.");
}

/* The positions an INSERT ... RETURNING version, global_position assigned (consecutive versions). */
void take_positions(NewEvent **fresh, int nfresh)
{
    for (uint64 r = 0; r < SPI_processed; r++)
    {
        bool isnull;
        int64 version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));
        int64 position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull));
        int64 i = version - fresh[0]->version;
        if (i >= 0 && i < nfresh)
            fresh[i]->position = position;
    }
}

bytea *hash_datum(const uint8 *hash)
{
    bytea *out = (bytea *)palloc(VARHDRSZ + EVENTS_HASH_LEN);
    SET_VARSIZE(out, VARHDRSZ + EVENTS_HASH_LEN);
    memcpy(VARDATA(out), hash, EVENTS_HASH_LEN);
    return out;
}

/*
 * The common case: no caller-chosen event_id (no conflict to skip), rows
 * written by store.cpp.  Returns false when that path is not possible.
 */
bool store_events(const EventsCatalog *catalog, text *stream, NewEvent **fresh, int nfresh, const uint8 *hashes,
                  TimestampTz now)
{
    EventsStore *store = events_store_begin(catalog);
    if (store == NULL)
        return false;
    Datum values[EV_NCOLUMNS];
    values[EV_STREAM_ID - 1] = PointerGetDatum(stream);
    values[EV_RECORDED_AT - 1] = TimestampTzGetDatum(now);
    values[EV_TX_ID - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
    for (int i = 0; i < nfresh; i++)
    {
        NewEvent *e = fresh[i];
        values[EV_VERSION - 1] = Int64GetDatum(e->version);
        values[EV_GLOBAL_POSITION - 1] = Int64GetDatum(e->position);
        values[EV_EVENT_ID - 1] = UUIDPGetDatum(&e->event_id);
        values[EV_TYPE - 1] = PointerGetDatum(cstring_to_text_with_len(e->type, e->type_len));
        values[EV_TYPE_VERSION - 1] = Int32GetDatum(e->type_version);
        values[EV_DATA - 1] = JsonbPGetDatum(e->data);
        values[EV_METADATA - 1] = JsonbPGetDatum(e->metadata);
        values[EV_HASH - 1] = PointerGetDatum(hash_datum(hashes + (Size)i * EVENTS_HASH_LEN));
        values[EV_TAGS - 1] = PointerGetDatum(e->tags);
        e->position = events_store_put(store, values);
        if ((i & 1023) == 1023)
            CHECK_FOR_INTERRUPTS();
    }
    events_store_end(store);
    return true;
}

/* Through an INSERT statement: with event_ids to skip on conflict, or when store.cpp declines. */
void insert_events(const AppendRequest *req, text *stream, NewEvent **fresh, int nfresh, const uint8 *hashes,
                   TimestampTz now, bool any_given, bool distributed)
{
    /* Parameter n is column n (insert_sql); an append's event is not redacted: an empty original_digest. */
    Datum args[EV_NCOLUMNS];
    bytea *no_digest = (bytea *)palloc(VARHDRSZ);
    SET_VARSIZE(no_digest, VARHDRSZ);
    args[EV_STREAM_ID - 1] = PointerGetDatum(stream);
    args[EV_RECORDED_AT - 1] = TimestampTzGetDatum(now);
    args[EV_TX_ID - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
    args[EV_ORIGINAL_DIGEST - 1] = PointerGetDatum(no_digest);
    if (nfresh == 1)
    {
        NewEvent *e = fresh[0];
        args[EV_VERSION - 1] = Int64GetDatum(e->version);
        args[EV_GLOBAL_POSITION - 1] = Int64GetDatum(e->position);
        args[EV_EVENT_ID - 1] = UUIDPGetDatum(&e->event_id);
        args[EV_TYPE - 1] = PointerGetDatum(cstring_to_text_with_len(e->type, e->type_len));
        args[EV_TYPE_VERSION - 1] = Int32GetDatum(e->type_version);
        args[EV_DATA - 1] = JsonbPGetDatum(e->data);
        args[EV_METADATA - 1] = JsonbPGetDatum(e->metadata);
        args[EV_HASH - 1] = PointerGetDatum(hash_datum(hashes));
        args[EV_TAGS - 1] = PointerGetDatum(e->tags);
        if (pg::spi::execute_plan(insert_plan(INSERT_ONE, any_given, distributed), args, NULL, false, 0) !=
            SPI_OK_INSERT_RETURNING)
            elog(ERROR, "chronicle: inserting the event failed");
        check_all_inserted(req, 1);
        take_positions(fresh, nfresh);
        return;
    }

    Datum *versions = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *ids = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *types = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *type_versions = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *datas = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *metas = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *hash_values = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *positions = (Datum *)palloc(sizeof(Datum) * nfresh);
    Datum *tag_lists = (Datum *)palloc(sizeof(Datum) * nfresh);
    for (int i = 0; i < nfresh; i++)
    {
        NewEvent *e = fresh[i];
        versions[i] = Int64GetDatum(e->version);
        ids[i] = UUIDPGetDatum(&e->event_id);
        types[i] = PointerGetDatum(cstring_to_text_with_len(e->type, e->type_len));
        type_versions[i] = Int32GetDatum(e->type_version);
        datas[i] = JsonbPGetDatum(e->data);
        metas[i] = JsonbPGetDatum(e->metadata);
        hash_values[i] = PointerGetDatum(hash_datum(hashes + (Size)i * EVENTS_HASH_LEN));
        positions[i] = Int64GetDatum(e->position);
        tag_lists[i] = DirectFunctionCall1(array_to_json, PointerGetDatum(e->tags));
        tag_lists[i] = DirectFunctionCall1(jsonb_in, DirectFunctionCall1(json_out, tag_lists[i]));
    }
    args[EV_VERSION - 1] =
        PointerGetDatum(construct_array(versions, nfresh, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    args[EV_GLOBAL_POSITION - 1] =
        PointerGetDatum(construct_array(positions, nfresh, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    args[EV_EVENT_ID - 1] = PointerGetDatum(construct_array(ids, nfresh, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
    args[EV_TYPE - 1] = PointerGetDatum(construct_array(types, nfresh, TEXTOID, -1, false, TYPALIGN_INT));
    args[EV_TYPE_VERSION - 1] =
        PointerGetDatum(construct_array(type_versions, nfresh, INT4OID, 4, true, TYPALIGN_INT));
    args[EV_DATA - 1] = PointerGetDatum(construct_array(datas, nfresh, JSONBOID, -1, false, TYPALIGN_INT));
    args[EV_METADATA - 1] = PointerGetDatum(construct_array(metas, nfresh, JSONBOID, -1, false, TYPALIGN_INT));
    args[EV_HASH - 1] = PointerGetDatum(construct_array(hash_values, nfresh, BYTEAOID, -1, false, TYPALIGN_INT));
    args[EV_TAGS - 1] = PointerGetDatum(construct_array(tag_lists, nfresh, JSONBOID, -1, false, TYPALIGN_INT));
    if (pg::spi::execute_plan(insert_plan(INSERT_MANY, any_given, distributed), args, NULL, false, 0) !=
        SPI_OK_INSERT_RETURNING)
        elog(ERROR, "chronicle: inserting the events failed");
    check_all_inserted(req, nfresh);
    take_positions(fresh, nfresh);
}

} // namespace

void append_write_events(const EventsCatalog *catalog, const AppendRequest *req, text *stream, NewEvent **fresh,
                         int nfresh, const uint8 *hashes, TimestampTz now, bool any_given)
{
    if (!any_given && store_events(catalog, stream, fresh, nfresh, hashes, now))
        return;
    /* The insert trigger accepts these rows by the hashes computed here (pending.cpp). */
    events_pending_set(req->stream_id, req->stream_len, fresh[0]->version, nfresh, hashes);
    insert_events(req, stream, fresh, nfresh, hashes, now, any_given, catalog->distributed);
    events_pending_clear();
}
