/*
 * append_events.cpp: chronicle.append_events, the append of several streams'
 * events in one call, optionally conditional on the log (docs/design/dcb.md):
 * the condition's keys and check are dcb_locks.cpp's and dcb.cpp's, each
 * stream's append is append.cpp's append_stream.
 */
#include "events/append.h"
#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/xid8.h"
}

namespace {

/* append_events' order of its events (the qsort_arg argument): by stream (bytes), then by position in the array. */
int compare_by_stream(const void *a, const void *b, void *arg)
{
    const NewEvent *events = (const NewEvent *)arg;
    const NewEvent *x = &events[*(const int *)a], *y = &events[*(const int *)b];
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
    int count;
    Jsonb *events = append_read_array(fcinfo, 0, "append_events appends at least one event.", &count);
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

    NewEvent *all = append_read_elements(events, count, true);
    EventQuery *condition =
        conditional ? events_query_parse(PG_GETARG_JSONB_P(1), "fail_if_events_match") : NULL;

    int *order = (int *)palloc(sizeof(int) * count);
    for (int i = 0; i < count; i++)
        order[i] = i;
    qsort_arg(order, count, sizeof(int), compare_by_stream, all);
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
        req.receipt = false; /* redact appends its receipt with chronicle.append */
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

