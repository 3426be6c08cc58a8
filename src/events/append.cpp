/*
 * append.cpp: chronicle.append and chronicle.append_batch (SPEC section 2).
 *
 * One append is, inside one backend call:
 *   1. validate every event and run types_check_event on it;
 *   2. when event_ids were given, look them up: identical events are no-ops
 *      (idempotency), different content is SE005;
 *   3. add the number of new events to the stream row's version, which
 *      takes the row lock that serialises the writers of this one stream (and
 *      nothing else) and yields the old version: a heap update through the
 *      table AM (stream_row.cpp), or an UPDATE statement when that path
 *      declines, or for a new stream INSERT ... ON CONFLICT DO UPDATE;
 *   4. check expected_version against the old version (SE001);
 *   5. read the previous event's hash, chain the new events, write them
 *      (store.cpp, or an INSERT statement);
 *   6. queue NOTIFY chronicle_events (payload: the category), sent at commit.
 * Writes run with the rights of the function's owner (the extension owner),
 * like SECURITY DEFINER but without its per-call GUC machinery: writers have
 * no privileges on the tables themselves.
 */
#include "events/events.h"
#include "pg/spi.h"
#include "events/observers.h"
#include "errors.h"
#include "pg/boundary.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"
}

namespace {

struct NewEvent
{
    char *type; /* NUL-terminated */
    int type_len;
    int32 type_version;
    Jsonb *data;
    Jsonb *metadata;
    pg_uuid_t event_id;
    bool given_id;  /* the caller chose the event_id: idempotency applies */
    bool duplicate; /* already stored, or earlier in this batch: not written */
    int dup_of;     /* index of the earlier batch element it repeats, or -1 */
    int64 version;  /* assigned, or the stored one for a duplicate */
    int64 position; /* global_position: assigned, or the stored one for a duplicate */
    ArrayType *tags; /* validated text[], never NULL (empty when none) */
    /* append_events only: the event's stream and expected_version */
    char *stream_id;
    int stream_len;
    bool has_expected;
    int64 expected;
};

struct AppendRequest
{
    char *stream_id;
    int stream_len;
    NewEvent *events;
    int count;
    bool has_expected;
    int64 expected;
};

SPIPlanPtr find_ids_plan;
SPIPlanPtr update_plan;
SPIPlanPtr upsert_plan;
SPIPlanPtr insert_one_plan;
SPIPlanPtr insert_many_plan;
SPIPlanPtr insert_one_given_plan;
SPIPlanPtr insert_many_given_plan;
/* The same statements for a Citus cluster (EventsCatalog.distributed). */
SPIPlanPtr find_ids_stream_plan;
SPIPlanPtr update_plain_plan;
SPIPlanPtr upsert_plain_plan;
SPIPlanPtr insert_one_given_citus_plan;
SPIPlanPtr insert_many_given_citus_plan;

const char *const FIND_IDS_SQL =
    "SELECT e.event_id, e.stream_id, e.version, e.type, e.data, e.global_position FROM chronicle.events e "
    "WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1)";

/* On Citus an event_id is unique within its stream (SPEC section 8): one shard is asked. */
const char *const FIND_IDS_STREAM_SQL =
    "SELECT e.event_id, e.stream_id, e.version, e.type, e.data FROM chronicle.events e "
    "WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1) AND e.stream_id OPERATOR(pg_catalog.=) $2";

/*
 * The common case, an existing stream.  A plain UPDATE locks the row as part
 * of the update; ON CONFLICT DO UPDATE would first lock it separately (one
 * more WAL record per append).  $2, the category, is used by UPSERT_SQL only.
 */
const char *const UPDATE_SQL =
    "UPDATE chronicle.streams AS s "
    "SET version = s.version OPERATOR(pg_catalog.+) $3, updated_at = $4 "
    "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
    "RETURNING s.version, (SELECT e.hash FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) s.stream_id "
    "AND e.version OPERATOR(pg_catalog.=) (s.version OPERATOR(pg_catalog.-) $3))";

/* A stream that did not exist a moment ago: create it, or join a concurrent creator. */
const char *const UPSERT_SQL =
    "INSERT INTO chronicle.streams AS s (stream_id, category, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (stream_id) DO UPDATE "
    "SET version = s.version OPERATOR(pg_catalog.+) excluded.version, "
    "updated_at = excluded.updated_at "
    "RETURNING s.version, (SELECT e.hash FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) s.stream_id "
    "AND e.version OPERATOR(pg_catalog.=) (s.version OPERATOR(pg_catalog.-) $3))";

/*
 * Citus plans no subquery in a RETURNING list: on a distributed store the
 * statements return the version only and the previous hash is read apart
 * (events_prev_hash, on the local shard).
 */
const char *const UPDATE_PLAIN_SQL =
    "UPDATE chronicle.streams AS s "
    "SET version = s.version OPERATOR(pg_catalog.+) $3, updated_at = $4 "
    "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
    "RETURNING s.version, NULL::pg_catalog.bytea";
const char *const UPSERT_PLAIN_SQL =
    "INSERT INTO chronicle.streams AS s (stream_id, category, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (stream_id) DO UPDATE "
    "SET version = s.version OPERATOR(pg_catalog.+) excluded.version, "
    "updated_at = excluded.updated_at "
    "RETURNING s.version, NULL::pg_catalog.bytea";

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

/* The owner of the called function (the extension owner), cached per call site. */
Oid function_owner(FunctionCallInfo fcinfo)
{
    Oid *cached = (Oid *)fcinfo->flinfo->fn_extra;
    if (cached == NULL)
    {
        HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
        Oid owner = ((Form_pg_proc)GETSTRUCT(tuple))->proowner;
        ReleaseSysCache(tuple);
        cached = (Oid *)MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
        *cached = owner;
        fcinfo->flinfo->fn_extra = cached;
    }
    return *cached;
}

void random_uuid(pg_uuid_t *uuid)
{
    if (!pg_strong_random(uuid->data, UUID_LEN))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a random uuid")));
    uuid->data[6] = (uuid->data[6] & 0x0f) | 0x40; /* version 4 */
    uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80; /* RFC 4122 variant */
}

char *uuid_text(const pg_uuid_t *uuid)
{
    return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
}

bool same_content(const NewEvent *a, const char *type, int type_len, Jsonb *data)
{
    return a->type_len == type_len && memcmp(a->type, type, type_len) == 0 &&
           compareJsonbContainers(&a->data->root, &data->root) == 0;
}

/* Order of batch elements by (event_id, position), for finding repeats. */
struct IdOrder
{
    const NewEvent *events;
};
IdOrder id_order;

int compare_ids(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int c = memcmp(id_order.events[i].event_id.data, id_order.events[j].event_id.data, UUID_LEN);
    return c != 0 ? c : (i > j) - (i < j);
}

/*
 * Repeats of an event_id inside the batch: the later copy is a no-op, or SE005
 * if its type or data differ.  Sorting keeps this O(n log n) for any batch.
 */
void mark_batch_repeats(AppendRequest *req)
{
    int *order = (int *)palloc(sizeof(int) * req->count);
    int n = 0;
    for (int i = 0; i < req->count; i++)
        if (req->events[i].given_id)
            order[n++] = i;
    id_order.events = req->events;
    qsort(order, n, sizeof(int), compare_ids);
    for (int k = 1; k < n; k++)
    {
        NewEvent *e = &req->events[order[k]];
        int first = order[k - 1];
        if (memcmp(req->events[first].event_id.data, e->event_id.data, UUID_LEN) != 0)
            continue;
        if (req->events[first].dup_of >= 0)
            first = req->events[first].dup_of;
        if (!same_content(&req->events[first], e->type, e->type_len, e->data))
        {
            /* PostgreSQL calls first: none may longjmp over the Error's strings (rule 2). */
            const char *id = uuid_text(&e->event_id);
            throw pg::Error(CHRONICLE_DUPLICATE_EVENT_ID,
                            pg::format("event_id %s appears twice in the batch with different content", id),
                            pg::format("Elements %d and %d differ in type or data.", first, order[k]));
        }
        e->duplicate = true;
        e->dup_of = first;
    }
}

/*
 * Look the caller's event_ids up in the log.  Before the stream lock, a
 * stored identical event makes the element a no-op.  After the lock
 * (after_lock), a hit is an append of the same event_id that committed while
 * this one waited: the caller must retry, and the retry will be a no-op.
 */
void mark_stored(AppendRequest *req, bool after_lock, const EventsCatalog *catalog, text *stream)
{
    /* The candidates sorted by event_id (unique after mark_batch_repeats). */
    int *order = (int *)palloc(sizeof(int) * req->count);
    int nids = 0;
    for (int i = 0; i < req->count; i++)
        if (req->events[i].given_id && !req->events[i].duplicate)
            order[nids++] = i;
    if (nids == 0)
        return;
    id_order.events = req->events;
    qsort(order, nids, sizeof(int), compare_ids);
    Datum *ids = (Datum *)palloc(sizeof(Datum) * nids);
    for (int k = 0; k < nids; k++)
        ids[k] = UUIDPGetDatum(&req->events[order[k]].event_id);

    static const Oid argtypes[2] = {UUIDARRAYOID, TEXTOID};
    SPIPlanPtr plan = catalog->distributed
                          ? pg::spi::kept_plan(&find_ids_stream_plan, FIND_IDS_STREAM_SQL, 2, argtypes)
                          : pg::spi::kept_plan(&find_ids_plan, FIND_IDS_SQL, 1, argtypes);
    Datum args[2] = {PointerGetDatum(construct_array(ids, nids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR)),
                     PointerGetDatum(stream)};
    if (pg::spi::execute_plan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: event_id lookup failed");

    SPITupleTable *table = SPI_tuptable;
    for (uint64 r = 0; r < SPI_processed; r++)
    {
        HeapTuple row = table->vals[r];
        bool isnull;
        pg_uuid_t *id = DatumGetUUIDP(SPI_getbinval(row, table->tupdesc, 1, &isnull));
        text *stream = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 2, &isnull));
        int64 version = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 3, &isnull));
        text *type = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 4, &isnull));
        Jsonb *data = DatumGetJsonbP(SPI_getbinval(row, table->tupdesc, 5, &isnull));
        int64 position = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 6, &isnull));

        int lo = 0, hi = nids;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (memcmp(req->events[order[mid]].event_id.data, id->data, UUID_LEN) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nids)
        {
            NewEvent *e = &req->events[order[lo]];
            if (e->duplicate || memcmp(e->event_id.data, id->data, UUID_LEN) != 0)
                continue;
            bool same_stream = (int)VARSIZE_ANY_EXHDR(stream) == req->stream_len &&
                               memcmp(VARDATA_ANY(stream), req->stream_id, req->stream_len) == 0;
            if (!same_stream ||
                !same_content(e, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type), data))
            {
                /* PostgreSQL calls first: none may longjmp over the Error's strings (rule 2). */
                const char *id = uuid_text(&e->event_id);
                const char *stored_stream = text_to_cstring(stream);
                const char *stored_type = text_to_cstring(type);
                throw pg::Error(CHRONICLE_DUPLICATE_EVENT_ID,
                                pg::format("event_id %s already exists with different content", id),
                                pg::format("It is stored as version %lld of stream \"%s\" with type \"%s\".",
                                           (long long)version, stored_stream, stored_type));
            }
            if (after_lock)
            {
                const char *id = uuid_text(&e->event_id);
                throw pg::Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                                pg::format("event_id %s was appended by a concurrent transaction", id),
                                {}, "Retry the append: it will find the stored event and do nothing.");
            }
            e->duplicate = true;
            e->version = version;
            e->position = position;
        }
    }
}

void check_expected(const AppendRequest *req, int64 actual)
{
    if (!req->has_expected || req->expected == actual)
        return;
    throw pg::Error(CHRONICLE_WRONG_EXPECTED_VERSION,
                    pg::format("wrong expected version for stream \"%.*s\": expected %lld, actual %lld",
                               req->stream_len, req->stream_id, (long long)req->expected,
                               (long long)actual),
                    req->expected == 0 ? "Expected version 0 means the stream must not exist yet."
                                       : "");
}

/* Copy a stored hash into out, refusing a malformed one. */
size_t copy_hash(Datum value, text *stream, int64 version, uint8 *out)
{
    bytea *h = DatumGetByteaPP(value);
    if (VARSIZE_ANY_EXHDR(h) != EVENTS_HASH_LEN)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("stream \"%s\" event %lld has a malformed hash",
                               text_to_cstring(stream), (long long)version),
                        errhint("Run chronicle.verify() to see the damage.")));
    memcpy(out, VARDATA_ANY(h), EVENTS_HASH_LEN);
    return EVENTS_HASH_LEN;
}

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
bool store_events(const EventsCatalog *catalog, text *stream, NewEvent **fresh, int nfresh, uint8 *hashes,
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
void insert_events(const AppendRequest *req, text *stream, NewEvent **fresh, int nfresh, uint8 *hashes,
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

/*
 * Step 3 through SQL: the UPDATE statement (when stream_row.cpp declines), or
 * the INSERT ... ON CONFLICT DO UPDATE that creates a stream or joins a
 * concurrent creator.  Returns the version before; the previous event's hash
 * comes with the row when the statement's snapshot sees it (prev_known).
 */
int64 bump_with_sql(text *stream, const char *stream_id, int category_len, int count, TimestampTz now,
                    bool create, bool distributed, uint8 *prev, bool *prev_known)
{
    static const Oid upsert_types[4] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID};
    Datum upsert_args[4] = {PointerGetDatum(stream),
                            PointerGetDatum(cstring_to_text_with_len(stream_id, category_len)),
                            Int64GetDatum(count), TimestampTzGetDatum(now)};
    if (!create)
    {
        SPIPlanPtr update = distributed ? pg::spi::kept_plan(&update_plain_plan, UPDATE_PLAIN_SQL, 4, upsert_types)
                                        : pg::spi::kept_plan(&update_plan, UPDATE_SQL, 4, upsert_types);
        if (pg::spi::execute_plan(update, upsert_args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
            elog(ERROR, "chronicle: stream update failed");
    }
    if (create || SPI_processed == 0)
    {
        SPIPlanPtr upsert = distributed ? pg::spi::kept_plan(&upsert_plain_plan, UPSERT_PLAIN_SQL, 4, upsert_types)
                                        : pg::spi::kept_plan(&upsert_plan, UPSERT_SQL, 4, upsert_types);
        if (pg::spi::execute_plan(upsert, upsert_args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
            elog(ERROR, "chronicle: stream upsert failed");
    }
    if (SPI_processed != 1)
        elog(ERROR, "chronicle: stream row of \"%s\" not written", text_to_cstring(stream));
    /*
     * The previous event's hash is missing only when this append waited for
     * the stream lock and the event it waited for committed after the
     * statement's snapshot (READ COMMITTED): the caller then reads it with a
     * new snapshot, which sees it.
     */
    bool isnull;
    int64 new_version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    int64 old_version = new_version - count;
    Datum prev_datum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
    *prev_known = old_version > 0 && !isnull;
    if (*prev_known)
        copy_hash(prev_datum, stream, old_version, prev);
    return old_version;
}

/* Steps 1..6 of the header comment; returns the version the caller reports. */
int64 append_stream(FunctionCallInfo fcinfo, AppendRequest *req, bool lock_keys = true)
{
    PreventCommandIfReadOnly("chronicle.append()");
    PreventCommandIfParallelMode("chronicle.append()");

    bool any_given = false;
    for (int i = 0; i < req->count; i++)
    {
        NewEvent *e = &req->events[i];
        types_check_event(e->type, e->type_version, e->data);
        any_given |= e->given_id;
        if ((i & 1023) == 1023)
            CHECK_FOR_INTERRUPTS();
    }
    /*
     * The shared keys of what this append writes, before it writes, all in
     * one order (dcb_locks.cpp); append_events took them with its condition's.
     */
    if (lock_keys)
    {
        DcbKeySet keys;
        events_keys_init(&keys, req->count * 2);
        for (int i = 0; i < req->count; i++)
            events_keys_written(&keys, req->events[i].type, req->events[i].type_len, req->events[i].tags);
        events_keys_lock(&keys, false);
    }

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");

    text *stream = cstring_to_text_with_len(req->stream_id, req->stream_len);
    EventsCatalog catalog;
    events_catalog(&catalog, stream);

    if (any_given)
    {
        mark_batch_repeats(req);
        mark_stored(req, false, &catalog, stream);
    }
    NewEvent **fresh = (NewEvent **)palloc(sizeof(NewEvent *) * req->count);
    int nfresh = 0;
    for (int i = 0; i < req->count; i++)
        if (!req->events[i].duplicate)
            fresh[nfresh++] = &req->events[i];
    if (nfresh == 0)
    {
        /* Everything is stored already: an idempotent retry, a no-op. */
        const NewEvent *last = &req->events[req->count - 1];
        int64 version = last->dup_of >= 0 ? req->events[last->dup_of].version : last->version;
        SPI_finish();
        return version;
    }

    int category_len = events_category_len(req->stream_id, req->stream_len);
    TimestampTz now = GetCurrentTransactionStartTimestamp();

    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(function_owner(fcinfo), saved_context | SECURITY_LOCAL_USERID_CHANGE);

    /* Step 3: the stream row, straight through the table AM when possible. */
    uint8 prev[EVENTS_HASH_LEN];
    bool prev_known = false;
    int64 old_version = events_stream_bump(&catalog, stream, nfresh, now);
    if (old_version < 0)
        old_version = bump_with_sql(stream, req->stream_id, category_len, nfresh, now,
                                    old_version == EVENTS_BUMP_NO_ROW, catalog.distributed, prev, &prev_known);
    int64 new_version = old_version + nfresh;
    check_expected(req, old_version);

    /* In READ COMMITTED each statement sees what committed while we waited. */
    if (any_given && !IsolationUsesXactSnapshot())
        mark_stored(req, true, &catalog, stream);

    size_t prev_len = 0;
    if (old_version > 0)
    {
        if (!prev_known && !events_prev_hash(&catalog, stream, old_version, prev))
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("stream \"%s\" has version %lld but its event %lld is missing",
                                   text_to_cstring(stream), (long long)old_version,
                                   (long long)old_version),
                            errhint("Run chronicle.verify() to see the damage.")));
        prev_len = EVENTS_HASH_LEN;
    }

    /*
     * Chain v2 covers global_position and tx_id: positions are taken before
     * the hashes (nextval's own check: the sequence's USAGE/UPDATE right,
     * held by its owner; an event skipped on conflict leaves a gap, allowed).
     */
    uint8 *hashes = (uint8 *)palloc((Size)nfresh * EVENTS_HASH_LEN);
    uint64 tx_id = U64FromFullTransactionId(GetTopFullTransactionId());
    for (int i = 0; i < nfresh; i++)
    {
        NewEvent *e = fresh[i];
        e->version = old_version + 1 + i;
        e->position = nextval_internal(catalog.position_seq, true);
        uint8 *out = hashes + (Size)i * EVENTS_HASH_LEN;
        uint8 content[EVENTS_HASH_LEN];
        events_content_digest(e->data, e->metadata, content);
        EventsLink link = {req->stream_id, (size_t)req->stream_len, e->version, e->position,
                           &e->event_id, e->type, (size_t)e->type_len, e->type_version, now, tx_id,
                           e->tags, content};
        events_hash(prev, prev_len, &link, out);
        memcpy(prev, out, EVENTS_HASH_LEN);
        prev_len = EVENTS_HASH_LEN;
        if ((i & 1023) == 1023)
            CHECK_FOR_INTERRUPTS();
    }

    if (any_given || !store_events(&catalog, stream, fresh, nfresh, hashes, now))
    {
        events_pending_set(req->stream_id, req->stream_len, old_version + 1, nfresh, hashes);
        insert_events(req, stream, fresh, nfresh, hashes, now, any_given, catalog.distributed);
        events_pending_clear();
    }

    SetUserIdAndSecContext(saved_user, saved_context);
    SPI_finish();

    /* `stream` lived in SPI's memory, gone with SPI_finish: the observers get a copy. */
    char *category = pnstrdup(req->stream_id, category_len);
    AppendedEvents appended = {cstring_to_text_with_len(req->stream_id, req->stream_len), category,
                               old_version + 1, new_version, function_owner(fcinfo)};
    events_notify_observers(&appended);

    /* Deduplicated per transaction by PostgreSQL; delivered at commit. */
    Async_Notify(EVENTS_NOTIFY_CHANNEL, category);
    return new_version;
}

/* Arguments common to both functions. */
void read_stream_and_expected(FunctionCallInfo fcinfo, int expected_arg, AppendRequest *req)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "stream_id must not be NULL");
    text *stream = PG_GETARG_TEXT_PP(0);
    req->stream_len = VARSIZE_ANY_EXHDR(stream);
    req->stream_id = text_to_cstring(stream);
    events_check_stream_id(req->stream_id, req->stream_len);
    events_check_append_stream(req->stream_id, req->stream_len);

    req->has_expected = !PG_ARGISNULL(expected_arg);
    if (req->has_expected)
    {
        req->expected = PG_GETARG_INT64(expected_arg);
        if (req->expected < 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("expected_version must not be negative (got %lld)",
                                       (long long)req->expected),
                            {}, "Use NULL for any version, 0 for a new stream, N for exactly N.");
    }
}

Jsonb *empty_object()
{
    return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

ArrayType *empty_tags()
{
    static ArrayType *empty = NULL;
    if (empty == NULL)
    {
        ArrayType *a = construct_empty_array(TEXTOID);
        empty = (ArrayType *)MemoryContextAlloc(TopMemoryContext, VARSIZE(a));
        memcpy(empty, a, VARSIZE(a));
    }
    return empty;
}

void init_event(NewEvent *e)
{
    memset(e, 0, sizeof(*e));
    e->type_version = 1;
    e->dup_of = -1;
    e->tags = empty_tags();
}

/* "tags" of an event object: a JSON array of strings, checked as append checks tags. */
ArrayType *parse_tags(JsonbValue *value, const char *what)
{
    if (value->type == jbvNull)
        return empty_tags();
    if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data))
        throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("%s must be a JSON array of strings", what));
    JsonbContainer *c = value->val.binary.data;
    int n = (int)JsonContainerSize(c);
    if (n == 0)
        return empty_tags();
    Datum *items = (Datum *)palloc(sizeof(Datum) * n);
    for (int i = 0; i < n; i++)
    {
        JsonbValue *v = getIthJsonbValueFromContainer(c, i);
        if (v->type != jbvString)
            throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("%s[%d] must be a string", what, i));
        items[i] = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
    }
    ArrayType *tags = construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT);
    events_check_tags(tags, what, 0);
    return tags;
}

/* event_id strings: 32 hex digits, hyphens allowed between groups, as uuid_in reads them. */
bool parse_uuid(const char *s, int len, pg_uuid_t *out)
{
    int digits = 0;
    for (int i = 0; i < len; i++)
    {
        char c = s[i];
        if (c == '-' && digits > 0 && digits < 32 && digits % 4 == 0 && s[i - 1] != '-')
            continue;
        int v = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (v < 0 || digits >= 32)
            return false;
        if (digits % 2 == 0)
            out->data[digits / 2] = (unsigned char)(v << 4);
        else
            out->data[digits / 2] |= (unsigned char)v;
        digits++;
    }
    return digits == 32;
}

/*
 * One element of append_batch's array, or of append_events' (multi: with
 * "stream_id" and "expected_version"); errors name the element.
 */
void parse_batch_element(JsonbValue *element, int index, NewEvent *e, bool multi = false)
{
    init_event(e);
    if (element->type != jbvBinary || !JsonContainerIsObject(element->val.binary.data))
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("events[%d] must be a JSON object with \"type\" and \"data\"", index));

    JsonbIterator *it = JsonbIteratorInit(element->val.binary.data);
    JsonbValue key, value;
    JsonbIteratorToken token;
    bool have_type = false, have_data = false;
    while ((token = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
    {
        if (token != WJB_KEY)
            continue;
        token = JsonbIteratorNext(&it, &value, true);
        const char *k = key.val.string.val;
        int klen = key.val.string.len;
#define KEY_IS(name) (klen == (int)strlen(name) && memcmp(k, name, klen) == 0)
        if (KEY_IS("type"))
        {
            if (value.type != jbvString)
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("events[%d].type must be a string", index));
            e->type = pnstrdup(value.val.string.val, value.val.string.len);
            e->type_len = value.val.string.len;
            events_check_type(e->type, e->type_len);
            have_type = true;
        }
        else if (KEY_IS("data") || KEY_IS("metadata"))
        {
            bool is_data = KEY_IS("data");
            if (value.type != jbvBinary || !JsonContainerIsObject(value.val.binary.data))
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("events[%d].%s must be a JSON object", index,
                                           is_data ? "data" : "metadata"));
            Jsonb *object = JsonbValueToJsonb(&value);
            if (is_data)
            {
                e->data = object;
                have_data = true;
            }
            else
                e->metadata = object;
        }
        else if (KEY_IS("event_id"))
        {
            if (value.type == jbvNull)
                continue;
            if (value.type != jbvString ||
                !parse_uuid(value.val.string.val, value.val.string.len, &e->event_id))
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("events[%d].event_id must be a uuid string", index));
            e->given_id = true;
        }
        else if (KEY_IS("tags"))
            e->tags = parse_tags(&value, psprintf("events[%d].tags", index));
        else if (multi && KEY_IS("stream_id"))
        {
            if (value.type != jbvString)
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("events[%d].stream_id must be a string", index));
            e->stream_id = pnstrdup(value.val.string.val, value.val.string.len);
            e->stream_len = value.val.string.len;
            events_check_stream_id(e->stream_id, e->stream_len);
            events_check_append_stream(e->stream_id, e->stream_len);
        }
        else if (multi && KEY_IS("expected_version"))
        {
            if (value.type == jbvNull)
                continue;
            bool bad = value.type != jbvNumeric;
            int64 n = 0;
            if (!bad)
            {
                bad = numeric_is_nan(value.val.numeric) || numeric_is_inf(value.val.numeric);
                /* out of bigint's range: 22003 from numeric_int8 */
                if (!bad)
                    n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(value.val.numeric)));
                bad = bad || n < 0 ||
                      !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(value.val.numeric),
                                                        DirectFunctionCall1(int8_numeric, Int64GetDatum(n))));
            }
            if (bad)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("events[%d].expected_version must be an integer >= 0", index),
                                {}, "Omit it (or null) for any version, 0 for a new stream, N for exactly N.");
            e->has_expected = true;
            e->expected = n;
        }
        else if (KEY_IS("type_version"))
        {
            bool bad = value.type != jbvNumeric;
            int32 n = 0;
            if (!bad)
            {
                n = numeric_int4_opt_error(value.val.numeric, &bad);
                bad = bad || n < 1 ||
                      !DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(value.val.numeric),
                                                        DirectFunctionCall1(int4_numeric, Int32GetDatum(n))));
            }
            if (bad)
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("events[%d].type_version must be a positive integer", index));
            e->type_version = n;
        }
        else
            throw pg::Error(CHRONICLE_INVALID_EVENT,
                            pg::format("events[%d] has an unknown key \"%.*s\"", index, klen, k),
                            multi ? "Allowed keys: stream_id, type, data, metadata, event_id, type_version, tags, "
                                    "expected_version."
                                  : "Allowed keys: type, data, metadata, event_id, type_version, tags.");
#undef KEY_IS
    }
    if (!have_type || !have_data)
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("events[%d] lacks \"%s\"", index, have_type ? "data" : "type"));
    if (multi && e->stream_id == NULL)
        throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("events[%d] lacks \"stream_id\"", index));
}

} // namespace

/* chronicle.append(stream_id, type, data, metadata, expected_version, event_id, tags) */
SQL_FUNCTION(chronicle_append)
{
        AppendRequest req;
        read_stream_and_expected(fcinfo, 4, &req);
        if (PG_ARGISNULL(1))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "type must not be NULL");
        if (PG_ARGISNULL(2))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "data must not be NULL");

        NewEvent event;
        init_event(&event);
        text *type = PG_GETARG_TEXT_PP(1);
        event.type_len = VARSIZE_ANY_EXHDR(type);
        event.type = text_to_cstring(type);
        events_check_type(event.type, event.type_len);
        event.data = PG_GETARG_JSONB_P(2);
        events_check_object(event.data, "data");
        if (PG_ARGISNULL(3))
            event.metadata = empty_object();
        else
        {
            event.metadata = PG_GETARG_JSONB_P(3);
            events_check_object(event.metadata, "metadata");
        }
        event.given_id = !PG_ARGISNULL(5);
        if (event.given_id)
            event.event_id = *PG_GETARG_UUID_P(5);
        else
            random_uuid(&event.event_id);
        if (PG_NARGS() > 6 && !PG_ARGISNULL(6)) /* 0.1.0's declaration has 6 arguments */
        {
            event.tags = PG_GETARG_ARRAYTYPE_P(6);
            events_check_tags(event.tags, "tags", 1);
        }

        req.events = &event;
        req.count = 1;
        return Int64GetDatum(append_stream(fcinfo, &req));
}

/* chronicle.append_batch(stream_id, events, expected_version) */
SQL_FUNCTION(chronicle_append_batch)
{
        AppendRequest req;
        read_stream_and_expected(fcinfo, 2, &req);
        if (PG_ARGISNULL(1))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "events must not be NULL");
        Jsonb *events = PG_GETARG_JSONB_P(1);
        if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "events must be a JSON array of event objects");
        int count = (int)JB_ROOT_COUNT(events);
        if (count == 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "events must not be an empty array",
                            {}, "A batch appends at least one event.");

        req.events = (NewEvent *)palloc(sizeof(NewEvent) * count);
        req.count = count;
        Jsonb *empty = NULL;
        for (int i = 0; i < count; i++)
        {
            NewEvent *e = &req.events[i];
            JsonbValue *element = getIthJsonbValueFromContainer(&events->root, i);
            parse_batch_element(element, i, e);
            if (e->metadata == NULL)
                e->metadata = empty ? empty : (empty = empty_object());
            if (!e->given_id)
                random_uuid(&e->event_id);
            if ((i & 1023) == 0)
                CHECK_FOR_INTERRUPTS();
        }
        return Int64GetDatum(append_stream(fcinfo, &req));
}

namespace {

/* append_events' order of its events: by stream (bytes), then by position in the array. */
const NewEvent *by_stream_events;
int compare_by_stream(const void *a, const void *b)
{
    const NewEvent *x = &by_stream_events[*(const int *)a], *y = &by_stream_events[*(const int *)b];
    int c = memcmp(x->stream_id, y->stream_id, Min(x->stream_len, y->stream_len));
    if (c == 0 && x->stream_len != y->stream_len)
        c = x->stream_len < y->stream_len ? -1 : 1;
    if (c != 0)
        return c;
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

} // namespace

/*
 * chronicle.append_events(events, fail_if_events_match, after_tx, after_position):
 *   1. parse every event (with its stream_id and expected_version) and the
 *      condition, so that a malformed argument fails before anything is locked;
 *   2. take every key of the call in one order (the condition's exclusive
 *      keys and the written events' shared ones); with a condition, look for
 *      a matching event after (after_tx, after_position) with a fresh
 *      snapshot (SE007);
 *   3. append each stream's events as append_batch does, streams in stream_id
 *      order (two multi-stream appends lock their stream rows in the same
 *      order, so they do not deadlock);
 *   4. one row per event, in the order given: stream, version, global_position.
 */
SQL_FUNCTION(chronicle_append_events)
{
        if (PG_ARGISNULL(0))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "events must not be NULL");
        Jsonb *events = PG_GETARG_JSONB_P(0);
        if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "events must be a JSON array of event objects");
        int count = (int)JB_ROOT_COUNT(events);
        if (count == 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "events must not be an empty array",
                            {}, "append_events appends at least one event.");
        /*
         * On a Citus cluster the log is per node and no lock spans nodes: a
         * condition could not see the other nodes' events, nor hold back
         * their writers (docs/design/citus.md).  Refused, conditional or not
         * (an unconditional call appends to streams on several nodes in one
         * call, which the append path refuses anyway).
         */
        if (events_distributed())
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "append_events is not supported on a distributed event store",
                            "On a Citus cluster each node has a log of its own and no lock spans nodes, so a "
                            "condition over the log cannot be checked race-free.",
                            "Append to each stream with chronicle.append or chronicle.append_batch, with "
                            "expected_version.");
        bool conditional = !PG_ARGISNULL(1);
        if (!conditional && (!PG_ARGISNULL(2) || !PG_ARGISNULL(3)))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "after_tx and after_position need fail_if_events_match",
                            {}, "They say which events the condition's reader had seen.");
        if (PG_ARGISNULL(2) && !PG_ARGISNULL(3))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "after_position needs after_tx",
                            {}, "Pass the (tx_id, global_position) of the last event read, or neither.");
        Datum after_tx = PG_ARGISNULL(2) ? FullTransactionIdGetDatum(FullTransactionIdFromU64(0)) : PG_GETARG_DATUM(2);
        int64 after_position = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);

        NewEvent *all = (NewEvent *)palloc(sizeof(NewEvent) * count);
        Jsonb *empty = NULL;
        for (int i = 0; i < count; i++)
        {
            NewEvent *e = &all[i];
            parse_batch_element(getIthJsonbValueFromContainer(&events->root, i), i, e, true);
            if (e->metadata == NULL)
                e->metadata = empty ? empty : (empty = empty_object());
            if (!e->given_id)
                random_uuid(&e->event_id);
            if ((i & 1023) == 0)
                CHECK_FOR_INTERRUPTS();
        }
        EventQuery *condition =
            conditional ? events_query_parse(PG_GETARG_JSONB_P(1), "fail_if_events_match") : NULL;

        int *order = (int *)palloc(sizeof(int) * count);
        for (int i = 0; i < count; i++)
            order[i] = i;
        by_stream_events = all;
        qsort(order, count, sizeof(int), compare_by_stream);
        for (int k = 1; k < count; k++)
        {
            const NewEvent *a = &all[order[k - 1]], *b = &all[order[k]];
            if (a->stream_len == b->stream_len && memcmp(a->stream_id, b->stream_id, a->stream_len) == 0 &&
                (a->has_expected != b->has_expected || (a->has_expected && a->expected != b->expected)))
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("events[%d] and events[%d] of stream \"%s\" give different expected_version",
                                           Min(order[k - 1], order[k]), Max(order[k - 1], order[k]), b->stream_id),
                                "All events of one stream carry the same expected_version, or none does.");
        }

        PreventCommandIfReadOnly("chronicle.append_events()");
        /*
         * Every key of the call, up front and in one order: the condition's
         * (exclusive) with those of every event it writes (shared), so that
         * no cycle can form between two appends (dcb_locks.cpp).
         */
        DcbKeySet keys;
        events_keys_init(&keys, count * 2 + (condition != NULL ? 4 : 0));
        for (int i = 0; i < count; i++)
            events_keys_written(&keys, all[i].type, all[i].type_len, all[i].tags);
        if (condition != NULL)
            events_query_lock(condition, &keys);
        events_keys_lock(&keys, condition != NULL);
        if (condition != NULL)
        {
            Datum *ids = (Datum *)palloc(sizeof(Datum) * count);
            int nids = 0;
            for (int i = 0; i < count; i++)
                if (all[i].given_id)
                    ids[nids++] = UUIDPGetDatum(&all[i].event_id);
            ArrayType *own_ids = construct_array(ids, nids, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
            ConditionHit hit;
            if (events_condition_check(condition, after_tx, after_position, own_ids, &hit) &&
                !(nids == count && events_all_stored(own_ids)))
            {
                const char *after = PG_ARGISNULL(2) ? "the beginning of the log"
                                                    : psprintf("(%s, %lld)",
                                                               DatumGetCString(DirectFunctionCall1(xid8out, after_tx)),
                                                               (long long)after_position);
                throw pg::Error(CHRONICLE_APPEND_CONDITION_FAILED,
                                pg::format("append condition failed: event %lld of stream \"%s\" (global_position %lld) "
                                           "matches fail_if_events_match",
                                           (long long)hit.version, hit.stream_id, (long long)hit.position),
                                pg::format("It was appended after %s.", after),
                                "Read the matching events again (read_query), decide again, and retry.");
            }
        }

        /* Each stream's events, contiguous, through the single-stream append. */
        NewEvent *group = (NewEvent *)palloc(sizeof(NewEvent) * count);
        for (int start = 0; start < count;)
        {
            const NewEvent *first = &all[order[start]];
            int end = start + 1;
            while (end < count && all[order[end]].stream_len == first->stream_len &&
                   memcmp(all[order[end]].stream_id, first->stream_id, first->stream_len) == 0)
                end++;
            AppendRequest req;
            req.stream_id = first->stream_id;
            req.stream_len = first->stream_len;
            req.has_expected = first->has_expected;
            req.expected = first->expected;
            req.count = end - start;
            req.events = group;
            for (int k = start; k < end; k++)
                group[k - start] = all[order[k]];
            append_stream(fcinfo, &req, false);
            for (int k = start; k < end; k++)
            {
                const NewEvent *done = &group[k - start];
                const NewEvent *source = done->dup_of >= 0 ? &group[done->dup_of] : done;
                all[order[k]].version = source->version;
                all[order[k]].position = source->position;
            }
            start = end;
        }

        InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
        ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
        for (int i = 0; i < count; i++)
        {
            Datum values[3] = {PointerGetDatum(cstring_to_text_with_len(all[i].stream_id, all[i].stream_len)),
                               Int64GetDatum(all[i].version), Int64GetDatum(all[i].position)};
            bool nulls[3] = {false, false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
        return (Datum)0;
}
