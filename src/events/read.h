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
