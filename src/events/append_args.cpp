/*
 * append_args.cpp: the arguments of chronicle.append, append_batch and
 * append_events, read and checked before anything is locked or written
 * (append.h).  An event object of append_batch or append_events has the
 * keys type, data, metadata, event_id, type_version and tags; append_events'
 * also stream_id and expected_version.  Errors name the element (events[i]).
 */
#include "events/append.h"
#include "errors.h"
#include "pg/boundary.h"
#include "pg/jsonb_root.h"

extern "C" {
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
}

namespace {

void random_uuid(pg_uuid_t *uuid)
{
    if (!pg_strong_random(uuid->data, UUID_LEN))
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not generate a random uuid")));
    uuid->data[6] = (uuid->data[6] & 0x0f) | 0x40; /* version 4 */
    uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80; /* RFC 4122 variant */
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
    /* null is an absent key, as for event_id and expected_version (and tags => NULL in append). */
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
void parse_batch_element(JsonbValue *element, int index, NewEvent *e, bool multi)
{
    init_event(e);
    if (element->type != jbvBinary || !JsonContainerIsObject(element->val.binary.data))
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("events[%d] must be a JSON object with \"type\" and \"data\"", index));

    JsonbIterator *it = JsonbIteratorInit(element->val.binary.data);
    JsonbValue key, value;
    bool have_type = false, have_data = false;
    while (pg::jsonb_next_member(&it, &key, &value))
    {
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
            /* "metadata": null is an absent key, stored as {} (as metadata => NULL in append). */
            if (!is_data && value.type == jbvNull)
                continue;
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

/* Arguments common to append and append_batch. */
void append_read_stream(FunctionCallInfo fcinfo, int expected_arg, AppendRequest *req)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "stream_id must not be NULL");
    text *stream = PG_GETARG_TEXT_PP(0);
    req->stream_len = VARSIZE_ANY_EXHDR(stream);
    req->stream_id = text_to_cstring(stream);
    events_check_stream_id(req->stream_id, req->stream_len);
    req->receipt = events_check_append_stream(req->stream_id, req->stream_len);

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


/* chronicle.append(stream_id, type, data, metadata, expected_version, event_id, tags): all but 0 and 4. */
void append_read_event(FunctionCallInfo fcinfo, NewEvent *event)
{
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "type must not be NULL");
    if (PG_ARGISNULL(2))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "data must not be NULL");

    init_event(event);
    text *type = PG_GETARG_TEXT_PP(1);
    event->type_len = VARSIZE_ANY_EXHDR(type);
    event->type = text_to_cstring(type);
    events_check_type(event->type, event->type_len);
    event->data = PG_GETARG_JSONB_P(2);
    events_check_object(event->data, "data");
    if (PG_ARGISNULL(3))
        event->metadata = empty_object();
    else
    {
        event->metadata = PG_GETARG_JSONB_P(3);
        events_check_object(event->metadata, "metadata");
    }
    event->given_id = !PG_ARGISNULL(5);
    if (event->given_id)
        event->event_id = *PG_GETARG_UUID_P(5);
    else
        random_uuid(&event->event_id);
    if (PG_NARGS() > 6 && !PG_ARGISNULL(6)) /* 0.1.0's declaration has 6 arguments */
    {
        event->tags = PG_GETARG_ARRAYTYPE_P(6);
        events_check_tags(event->tags, "tags", 1);
    }
}

Jsonb *append_read_array(FunctionCallInfo fcinfo, int arg, const char *empty_hint, int *count)
{
    if (PG_ARGISNULL(arg))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "events must not be NULL");
    Jsonb *events = PG_GETARG_JSONB_P(arg);
    if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events))
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "events must be a JSON array of event objects");
    *count = (int)JB_ROOT_COUNT(events);
    if (*count == 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "events must not be an empty array", {}, empty_hint);
    return events;
}

NewEvent *append_read_elements(Jsonb *events, int count, bool multi)
{
    NewEvent *all = (NewEvent *)palloc(sizeof(NewEvent) * count);
    Jsonb *empty = NULL;
    for (int i = 0; i < count; i++)
    {
        NewEvent *e = &all[i];
        parse_batch_element(getIthJsonbValueFromContainer(&events->root, i), i, e, multi);
        if (e->metadata == NULL)
            e->metadata = empty ? empty : (empty = empty_object());
        if (!e->given_id)
            random_uuid(&e->event_id);
        if ((i & 1023) == 0)
            CHECK_FOR_INTERRUPTS();
    }
    return all;
}
