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

/* The INSERT statements of append_write_events's SQL path; _given: with caller-chosen event_ids. */
SPIPlanPtr insert_one_plan;
SPIPlanPtr insert_many_plan;
SPIPlanPtr insert_one_given_plan;
SPIPlanPtr insert_many_given_plan;
/* The same statements for a Citus cluster (EventsCatalog.distributed). */
SPIPlanPtr insert_one_given_citus_plan;
SPIPlanPtr insert_many_given_citus_plan;

#define INSERT_ONE_SQL_TEXT \
    "INSERT INTO chronicle.events (stream_id, version, global_position, event_id, type, " \
    "type_version, data, metadata, recorded_at, tx_id, hash, tags) " \
    "VALUES ($1, $2, $12, $3, $4, $5, $6, $7, $8, $9, $10, $11)"

#define INSERT_MANY_SQL_TEXT \
    "INSERT INTO chronicle.events (stream_id, version, global_position, event_id, type, " \
    "type_version, data, metadata, recorded_at, tx_id, hash, tags) " \
    "SELECT $1, u.version, u.global_position, u.event_id, " \
    "u.type, u.type_version, u.data, u.metadata, $2, $3, u.hash, " \
    "ARRAY(SELECT x.t FROM pg_catalog.jsonb_array_elements_text(u.tags) WITH ORDINALITY AS x(t, n) " \
    "ORDER BY x.n) " \
    "FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), " \
    "pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), " \
    "pg_catalog.unnest($11), pg_catalog.unnest($12)) " \
    "AS u(version, event_id, type, type_version, data, metadata, hash, tags, global_position)"

/* Every insert reports the positions it assigned (append_events returns them). */
#define INSERT_RETURNING " RETURNING version, global_position"
const char *const INSERT_ONE_SQL = INSERT_ONE_SQL_TEXT INSERT_RETURNING;
const char *const INSERT_MANY_SQL = INSERT_MANY_SQL_TEXT INSERT_RETURNING;
/*
 * With caller-chosen event_ids, another stream's append may take one of them
 * concurrently (the stream lock does not cover it): skip instead of failing
 * with a unique violation, and report SE005 when a row was skipped.
 */
const char *const INSERT_ONE_GIVEN_SQL = INSERT_ONE_SQL_TEXT " ON CONFLICT (event_id) DO NOTHING" INSERT_RETURNING;
const char *const INSERT_MANY_GIVEN_SQL = INSERT_MANY_SQL_TEXT " ON CONFLICT (event_id) DO NOTHING" INSERT_RETURNING;
/* chronicle.distribute() replaced the unique key on event_id by (stream_id, event_id). */
const char *const INSERT_ONE_GIVEN_CITUS_SQL =
    INSERT_ONE_SQL_TEXT " ON CONFLICT (stream_id, event_id) DO NOTHING" INSERT_RETURNING;
const char *const INSERT_MANY_GIVEN_CITUS_SQL =
    INSERT_MANY_SQL_TEXT " ON CONFLICT (stream_id, event_id) DO NOTHING" INSERT_RETURNING;

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
    Datum xid = FullTransactionIdGetDatum(GetTopFullTransactionId());
    if (nfresh == 1)
    {
        static const Oid argtypes[12] = {TEXTOID,  INT8OID,        UUIDOID, TEXTOID,  INT4OID,      JSONBOID,
                                         JSONBOID, TIMESTAMPTZOID, XID8OID, BYTEAOID, TEXTARRAYOID, INT8OID};
        SPIPlanPtr plan =
            !any_given    ? pg::spi::kept_plan(&insert_one_plan, INSERT_ONE_SQL, 12, argtypes)
            : distributed ? pg::spi::kept_plan(&insert_one_given_citus_plan, INSERT_ONE_GIVEN_CITUS_SQL, 12, argtypes)
                          : pg::spi::kept_plan(&insert_one_given_plan, INSERT_ONE_GIVEN_SQL, 12, argtypes);
        NewEvent *e = fresh[0];
        Datum args[12] = {PointerGetDatum(stream),
                          Int64GetDatum(e->version),
                          UUIDPGetDatum(&e->event_id),
                          PointerGetDatum(cstring_to_text_with_len(e->type, e->type_len)),
                          Int32GetDatum(e->type_version),
                          JsonbPGetDatum(e->data),
                          JsonbPGetDatum(e->metadata),
                          TimestampTzGetDatum(now),
                          xid,
                          PointerGetDatum(hash_datum(hashes)),
                          PointerGetDatum(e->tags),
                          Int64GetDatum(e->position)};
        if (pg::spi::execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
            elog(ERROR, "chronicle: inserting the event failed");
        check_all_inserted(req, 1);
        take_positions(fresh, nfresh);
        return;
    }

    static const Oid argtypes[12] = {TEXTOID,       TIMESTAMPTZOID, XID8OID,       INT8ARRAYOID,
                                     UUIDARRAYOID,  TEXTARRAYOID,   INT4ARRAYOID,  JSONBARRAYOID,
                                     JSONBARRAYOID, BYTEAARRAYOID,  JSONBARRAYOID, INT8ARRAYOID};
    SPIPlanPtr plan =
        !any_given    ? pg::spi::kept_plan(&insert_many_plan, INSERT_MANY_SQL, 12, argtypes)
        : distributed ? pg::spi::kept_plan(&insert_many_given_citus_plan, INSERT_MANY_GIVEN_CITUS_SQL, 12, argtypes)
                      : pg::spi::kept_plan(&insert_many_given_plan, INSERT_MANY_GIVEN_SQL, 12, argtypes);
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
    Datum args[12] = {
        PointerGetDatum(stream),
        TimestampTzGetDatum(now),
        xid,
        PointerGetDatum(construct_array(versions, nfresh, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
        PointerGetDatum(construct_array(ids, nfresh, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR)),
        PointerGetDatum(construct_array(types, nfresh, TEXTOID, -1, false, TYPALIGN_INT)),
        PointerGetDatum(construct_array(type_versions, nfresh, INT4OID, 4, true, TYPALIGN_INT)),
        PointerGetDatum(construct_array(datas, nfresh, JSONBOID, -1, false, TYPALIGN_INT)),
        PointerGetDatum(construct_array(metas, nfresh, JSONBOID, -1, false, TYPALIGN_INT)),
        PointerGetDatum(construct_array(hash_values, nfresh, BYTEAOID, -1, false, TYPALIGN_INT)),
        PointerGetDatum(construct_array(tag_lists, nfresh, JSONBOID, -1, false, TYPALIGN_INT)),
        PointerGetDatum(construct_array(positions, nfresh, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
    if (pg::spi::execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
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
