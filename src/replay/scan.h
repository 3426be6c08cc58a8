/*
 * scan.h: one stream's events in version order, read straight from the
 * primary key of chronicle.events (stream_id, version) without the executor.
 *
 * A replay touches every event of a stream once, so the per-row cost of the
 * executor (a plan, projection of all columns, a DestReceiver, a buffer
 * lock and pin bookkeeping per row) is most of what it pays.  This scan does
 * what the executor would for the same query (the same permission check,
 * locks, snapshot and index) and fetches the heap a page at a time: the
 * index entries of one heap page are collected first, then the page is
 * locked once for all their visibility checks, as a sequential scan does.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/tuptable.h"
}

struct EventScan;

/*
 * Begin reading stream_id's events with after < version <= upto, in
 * CurrentMemoryContext.  Raises 42501 exactly as the executor would when the
 * current user may not read chronicle.events.  Returns NULL, having opened
 * nothing, when this scan could not return what the executor would:
 * row-level security is enabled on chronicle.events, it is not a heap table
 * with the columns of row/event_row.h in their order, or its primary key is
 * not a btree on (stream_id, version); the caller then reads through SPI.
 */
EventScan *event_scan_begin(text *stream_id, int64 after, int64 upto, int natts);

/* One event: its first natts attributes, in table order. */
struct EventRow
{
    Datum *values;
    bool *isnull;
};

/*
 * The next event's first natts attributes (at least 2, at most 11: through
 * hash, row/event_row.h), valid
 * until the next call; false after the last.  Checks for interrupts.
 */
bool event_scan_next(EventScan *s, EventRow *row);

void event_scan_end(EventScan *s);
