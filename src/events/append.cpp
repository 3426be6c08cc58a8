/*
 * append.cpp: chronicle.append and chronicle.append_batch.
 *
 * One append is, inside one backend call:
 *   1. validate every event and run types_check_event on it; take the DCB
 *      keys of what it writes (dcb_locks.cpp);
 *   2. when event_ids were given, look them up: identical events are no-ops
 *      (idempotency), different content is SE005 (idempotency.cpp);
 *   3. add the number of new events to the stream row's version, which
 *      takes the row lock that serialises the writers of this one stream (and
 *      nothing else) and yields the old version: a heap update through the
 *      table AM, or an UPDATE statement when that path declines, or for a new
 *      stream INSERT ... ON CONFLICT DO UPDATE (stream_row.cpp);
 *   4. check expected_version against the old version (SE001);
 *   5. read the previous event's hash, chain the new events, write them
 *      (store.cpp: through the table AM, or an INSERT statement);
 *   6. tell the observers, queue NOTIFY chronicle_events (payload: the
 *      category), sent at commit.
 * Writes run with the rights of the function's owner (the extension owner),
 * like SECURITY DEFINER but without its per-call GUC machinery: writers have
 * no privileges on the tables themselves.  The arguments are read by
 * append_args.cpp; append_events (several streams) is append_events.cpp.
 */
#include "events/append.h"
#include "events/observers.h"
#include "errors.h"
#include "pg/boundary.h"
#include "pg/owner.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
}

namespace {

/* The owner of the called function (the extension owner, pg/owner.h), cached per call site. */
Oid function_owner(FunctionCallInfo fcinfo)
{
    Oid *cached = (Oid *)fcinfo->flinfo->fn_extra;
    if (cached == NULL)
    {
        Oid owner = pg::function_owner(fcinfo);
        cached = (Oid *)MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid));
        *cached = owner;
        fcinfo->flinfo->fn_extra = cached;
    }
    return *cached;
}


/* Step 1: every event checked against its type; true when any has a caller-chosen event_id. */
bool check_events(const AppendRequest *req)
{
    bool any_given = false;
    for (int i = 0; i < req->count; i++)
    {
        const NewEvent *e = &req->events[i];
        if (!req->receipt)
            types_check_event(e->type, e->type_version, e->data);
        any_given |= e->given_id;
        if ((i & 1023) == 1023)
            CHECK_FOR_INTERRUPTS();
    }
    return any_given;
}

/*
 * The shared keys of what this append writes, before it writes, all in one
 * order (dcb_locks.cpp); append_events takes them with its condition's.
 */
void lock_written_keys(const AppendRequest *req)
{
    DcbKeySet keys;
    events_keys_init(&keys, req->count * 2);
    for (int i = 0; i < req->count; i++)
        events_keys_written(&keys, req->events[i].type, req->events[i].type_len, req->events[i].tags);
    events_keys_lock(&keys, false);
}

/* The events that step 2 did not find stored: the ones to write. */
NewEvent **fresh_events(AppendRequest *req, int *nfresh)
{
    NewEvent **fresh = (NewEvent **)palloc(sizeof(NewEvent *) * req->count);
    *nfresh = 0;
    for (int i = 0; i < req->count; i++)
        if (!req->events[i].duplicate)
            fresh[(*nfresh)++] = &req->events[i];
    return fresh;
}

/* An append whose every event is stored already (an idempotent retry): the version it reports. */
int64 stored_version(const AppendRequest *req)
{
    const NewEvent *last = &req->events[req->count - 1];
    return last->dup_of >= 0 ? req->events[last->dup_of].version : last->version;
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

/* Step 5's start: the hash of event old_version, when the stream row's statement did not bring it. */
void read_prev_hash(const EventsCatalog *catalog, text *stream, int64 old_version, uint8 *prev)
{
    if (!events_prev_hash(catalog, stream, old_version, prev))
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("stream \"%s\" has version %lld but its event %lld is missing",
                               text_to_cstring(stream), (long long)old_version, (long long)old_version),
                        errhint("Run chronicle.verify() to see the damage.")));
}

/*
 * Step 5's chain: versions, positions and hashes of the fresh events, after
 * prev (the hash of event old_version; unused when old_version is 0).
 * Chain v2 covers global_position and tx_id: positions are taken before
 * the hashes (nextval's own check: the sequence's USAGE/UPDATE right,
 * held by its owner; an event skipped on conflict leaves a gap, allowed).
 */
uint8 *chain(const AppendRequest *req, NewEvent **fresh, int nfresh, int64 old_version, uint8 *prev,
             Oid position_seq, TimestampTz now)
{
    size_t prev_len = old_version > 0 ? EVENTS_HASH_LEN : 0;
    uint8 *hashes = (uint8 *)palloc((Size)nfresh * EVENTS_HASH_LEN);
    uint64 tx_id = U64FromFullTransactionId(GetTopFullTransactionId());
    for (int i = 0; i < nfresh; i++)
    {
        NewEvent *e = fresh[i];
        e->version = old_version + 1 + i;
        e->position = nextval_internal(position_seq, true);
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
    return hashes;
}

/* Step 6: the observers (snapshots, projections), then NOTIFY, deduplicated per transaction and sent at commit. */
void announce(FunctionCallInfo fcinfo, const AppendRequest *req, int category_len, int64 first, int64 last)
{
    char *category = pnstrdup(req->stream_id, category_len);
    AppendedEvents appended = {cstring_to_text_with_len(req->stream_id, req->stream_len), category, first, last,
                               function_owner(fcinfo)};
    events_notify_observers(&appended);
    Async_Notify(EVENTS_NOTIFY_CHANNEL, category);
}

} // namespace

/* Steps 1..6 of the header comment; returns the version the caller reports. */
int64 append_stream(FunctionCallInfo fcinfo, AppendRequest *req, bool lock_keys)
{
    PreventCommandIfReadOnly("chronicle.append()");
    PreventCommandIfParallelMode("chronicle.append()");
    /* Step 1: the events' types, the DCB keys. */
    bool any_given = check_events(req);
    if (lock_keys)
        lock_written_keys(req);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    text *stream = cstring_to_text_with_len(req->stream_id, req->stream_len);
    EventsCatalog catalog;
    events_catalog(&catalog, stream);

    /* Step 2: idempotency, for caller-chosen event_ids. */
    if (any_given)
    {
        append_mark_repeats(req);
        append_mark_stored(req, false, &catalog, stream);
    }
    int nfresh;
    NewEvent **fresh = fresh_events(req, &nfresh);
    if (nfresh == 0)
    {
        SPI_finish();
        return stored_version(req);
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
        old_version = append_bump_with_sql(&catalog, stream, req->stream_id, category_len, nfresh, now,
                                           old_version == EVENTS_BUMP_NO_ROW, prev, &prev_known);
    /* Step 4. */
    check_expected(req, old_version);
    /* In READ COMMITTED each statement sees what committed while we waited. */
    if (any_given && !IsolationUsesXactSnapshot())
        append_mark_stored(req, true, &catalog, stream);

    /* Step 5: the chain, then the rows. */
    if (old_version > 0 && !prev_known)
        read_prev_hash(&catalog, stream, old_version, prev);
    uint8 *hashes = chain(req, fresh, nfresh, old_version, prev, catalog.position_seq, now);
    append_write_events(&catalog, req, stream, fresh, nfresh, hashes, now, any_given);

    SetUserIdAndSecContext(saved_user, saved_context);
    SPI_finish();
    /* Step 6.  `stream` lived in SPI's memory, gone with SPI_finish: announce() makes a copy. */
    announce(fcinfo, req, category_len, old_version + 1, old_version + nfresh);
    return old_version + nfresh;
}

/* chronicle.append(stream_id, type, data, metadata, expected_version, event_id, tags) */
SQL_FUNCTION(chronicle_append)
{
    AppendRequest req;
    append_read_stream(fcinfo, 4, &req);
    NewEvent event;
    append_read_event(fcinfo, &event);
    req.events = &event;
    req.count = 1;
    return Int64GetDatum(append_stream(fcinfo, &req));
}

/* chronicle.append_batch(stream_id, events, expected_version) */
SQL_FUNCTION(chronicle_append_batch)
{
    AppendRequest req;
    append_read_stream(fcinfo, 2, &req);
    int count;
    Jsonb *events = append_read_array(fcinfo, 1, "A batch appends at least one event.", &count);
    req.events = append_read_elements(events, count, false);
    req.count = count;
    return Int64GetDatum(append_stream(fcinfo, &req));
}
