/*
 * append.h: the pieces of an append, shared by the files that hold them
 * (private to the events module, like events.h).  append.cpp strings them
 * together: append_stream() is the steps of one stream's append.
 *
 *   append_args.cpp   the arguments of append, append_batch, append_events
 *   idempotency.cpp   caller-chosen event_ids already stored or repeated
 *   stream_row.cpp    the stream row's bump (here: its SQL fallback)
 *   store.cpp         writing the rows (here: direct path or INSERT)
 *   append.cpp        append_stream; chronicle.append and append_batch
 *   append_events.cpp chronicle.append_events (several streams, a condition)
 *
 * These functions are not part of chronicle.so's dynamic symbol table
 * (hidden visibility): they are calls inside the append, nothing more.
 * C-style, as the whole module (events.h); errors are pg::Error throws or
 * ereports, both fine under the SQL_FUNCTION that started the append.
 */
#pragma once

#include "events/events.h"

extern "C" {
#include "fmgr.h"
}

#pragma GCC visibility push(hidden)

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
    bool receipt; /* redact's receipt (stream chronicle-erasures): no schema check */
};

/*
 * append.cpp: steps 1..6 of one stream's append (validation, idempotency,
 * stream row, expected_version, chain and write, notification); returns the
 * stream's new version.  lock_keys: take the written events' DCB keys
 * (append_events took them already, with its condition's).
 */
int64 append_stream(FunctionCallInfo fcinfo, AppendRequest *req, bool lock_keys = true);

/*
 * append_args.cpp: reading the arguments, before anything is locked.
 *   read_stream: stream_id (argument 0) and expected_version (argument
 *     expected_arg) of append and append_batch.
 *   read_event: append's type, data, metadata, event_id and tags.
 *   read_array: the jsonb array of argument arg (not NULL, an array, not
 *     empty: empty_hint says why); its element count in *count.
 *   read_elements: every element of that array as a NewEvent (multi:
 *     append_events' objects, with stream_id and expected_version), with its
 *     defaults filled in (metadata {}, a random event_id).
 */
void append_read_stream(FunctionCallInfo fcinfo, int expected_arg, AppendRequest *req);
void append_read_event(FunctionCallInfo fcinfo, NewEvent *event);
Jsonb *append_read_array(FunctionCallInfo fcinfo, int arg, const char *empty_hint, int *count);
NewEvent *append_read_elements(Jsonb *events, int count, bool multi);

/*
 * idempotency.cpp: caller-chosen event_ids.  mark_repeats: a later element
 * repeating an earlier one's event_id is a no-op (SE005 if its content
 * differs).  mark_stored: elements whose event_id is in the log already; before
 * the stream lock an identical stored event makes the element a no-op, after
 * it (after_lock) a hit means a concurrent append of it committed (40001).
 */
void append_mark_repeats(AppendRequest *req);
void append_mark_stored(AppendRequest *req, bool after_lock, const EventsCatalog *catalog, text *stream);

/*
 * stream_row.cpp: step 3 through SQL, when events_stream_bump declined
 * (EVENTS_BUMP_USE_SQL) or found no row (create): the UPDATE statement, or
 * the INSERT ... ON CONFLICT DO UPDATE that creates the stream or joins a
 * concurrent creator.  Returns the version before; the previous event's hash
 * comes with the row when the statement's snapshot sees it (*prev_known).
 */
int64 append_bump_with_sql(const EventsCatalog *catalog, text *stream, const char *stream_id, int category_len,
                           int count, TimestampTz now, bool create, uint8 *prev, bool *prev_known);

/*
 * store.cpp: step 5's write of the fresh events (their versions, positions
 * and hashes assigned): through the table AM when possible, else (with
 * caller-chosen event_ids, or when store.cpp declines) an INSERT statement;
 * either way each event's global_position is the one written.
 */
void append_write_events(const EventsCatalog *catalog, const AppendRequest *req, text *stream, NewEvent **fresh,
                         int nfresh, const uint8 *hashes, TimestampTz now, bool any_given);

#pragma GCC visibility pop
