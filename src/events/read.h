/*
 * read.h: reading events as chronicle's reads return them, for the modules
 * above the event store (subscriptions/poll.cpp).  A read plan selects
 * EVENTS_COLUMNS (row/event_row.h) FROM chronicle.events e.
 *
 * C-style (pg/boundary.h): may ereport.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "access/transam.h"
#include "executor/spi.h"
#include "utils/tuplestore.h"
}

/*
 * read.cpp: run a read plan whose rows are chronicle.events rows (SPI
 * connected), storing them into store upcast as every read returns them
 * (docs/reference/types.md).  nulls as SPI takes them ('n' for NULL), or NULL.
 */
void events_read_into(SPIPlanPtr plan, int nargs, const Oid *argtypes, const Datum *args,
                      const char *nulls, Tuplestorestate *store);

/*
 * The same, for a plan that returns its rows in no particular order: keeps
 * the rows in `range` (strictly after (after_tx, after_position) in
 * (tx_id, global_position) order, and tx_id below below_tx), of those the
 * first `limit` in that order (copies, at most `limit` at a time), and
 * stores them in that order.  For a search whose matches come unordered
 * (read_query through the tag index): it spares the plan a Filter and a Sort
 * node, whose keys, past the row's variable-width columns, are the costliest
 * part of such a read, and leaves the planner nothing to combine with the
 * log index.
 */
struct EventsLogRange
{
    uint64 after_tx;
    int64 after_position;
    uint64 below_tx;
};
void events_read_sorted_into(SPIPlanPtr plan, int nargs, const Oid *argtypes, const Datum *args,
                             const char *nulls, const EventsLogRange *range, int64 limit,
                             Tuplestorestate *store);

/*
 * pg_snapshot_xmin(pg_current_snapshot()) of the active snapshot, which a
 * read-only SPI plan runs with: read_all's horizon, as one value (a read
 * passes it as a parameter instead of calling the two functions per row).
 */
FullTransactionId events_horizon(void);
