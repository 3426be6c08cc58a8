/*
 * kept_plan.h: an SPI plan prepared on first use and kept for the backend's
 * lifetime.  A kept plan survives DDL: the plan cache re-analyses its query
 * text when a table it uses changes (even after DROP and CREATE EXTENSION),
 * so caching it forever is safe.
 *
 * C-style: may ereport.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/spi.h"
}

namespace pg {

/*
 * *slot, prepared from sql the first time (SPI connected); cursor_options
 * as SPI_prepare_cursor takes them (CURSOR_OPT_GENERIC_PLAN, ...).
 */
SPIPlanPtr kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes,
                     int cursor_options = 0);

} // namespace pg
