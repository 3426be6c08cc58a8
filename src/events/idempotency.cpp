/*
 * idempotency.cpp: appends that name their events (caller-chosen event_ids).
 * An event_id identifies one event of one stream: appending it again with the
 * same stream, type and data is a no-op that reports the stored version and
 * position; different content is SE005.  Repeats inside one batch are found by
 * sorting the batch (append_mark_repeats), stored ones by one look-up of all
 * the batch's ids (append_mark_stored), before the stream lock and, in READ
 * COMMITTED, again after it (append.cpp).  An id taken concurrently by another
 * stream's append is caught by the INSERT's ON CONFLICT (store.cpp).
 */
#include "events/append.h"
#include "pg/spi.h"
#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
}

namespace {

SPIPlanPtr find_ids_plan;
/* The same statement for a Citus cluster (EventsCatalog.distributed). */
SPIPlanPtr find_ids_stream_plan;

/* Both statements return these columns, in this order (append_mark_stored reads them by number). */
#define FIND_IDS_SELECT                                                                               \
    "SELECT e.event_id, e.stream_id, e.version, e.type, e.data, e.global_position FROM chronicle.events e " \
    "WHERE e.event_id OPERATOR(pg_catalog.=) ANY ($1)"
const char *const FIND_IDS_SQL = FIND_IDS_SELECT;
/* On Citus an event_id is unique within its stream (docs/design/citus.md): one shard is asked. */
const char *const FIND_IDS_STREAM_SQL = FIND_IDS_SELECT " AND e.stream_id OPERATOR(pg_catalog.=) $2";

char *uuid_text(const pg_uuid_t *uuid)
{
    return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
}

bool same_content(const NewEvent *a, const char *type, int type_len, Jsonb *data)
{
    return a->type_len == type_len && memcmp(a->type, type, type_len) == 0 &&
           compareJsonbContainers(&a->data->root, &data->root) == 0;
}

/* Order of batch elements (indexes into events, the qsort_arg argument) by (event_id, position). */
int compare_ids(const void *a, const void *b, void *arg)
{
    const NewEvent *events = (const NewEvent *)arg;
    int i = *(const int *)a, j = *(const int *)b;
    int c = memcmp(events[i].event_id.data, events[j].event_id.data, UUID_LEN);
    return c != 0 ? c : (i > j) - (i < j);
}

} // namespace

/*
 * Repeats of an event_id inside the batch: the later copy is a no-op, or SE005
 * if its type or data differ.  Sorting keeps this O(n log n) for any batch.
 */
void append_mark_repeats(AppendRequest *req)
{
    int *order = (int *)palloc(sizeof(int) * req->count);
    int n = 0;
    for (int i = 0; i < req->count; i++)
        if (req->events[i].given_id)
            order[n++] = i;
    qsort_arg(order, n, sizeof(int), compare_ids, req->events);
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
void append_mark_stored(AppendRequest *req, bool after_lock, const EventsCatalog *catalog, text *stream)
{
    /* The candidates sorted by event_id (unique after append_mark_repeats). */
    int *order = (int *)palloc(sizeof(int) * req->count);
    int nids = 0;
    for (int i = 0; i < req->count; i++)
        if (req->events[i].given_id && !req->events[i].duplicate)
            order[nids++] = i;
    if (nids == 0)
        return;
    qsort_arg(order, nids, sizeof(int), compare_ids, req->events);
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

