/*
 * spi.h: the one door through which chronicle runs SQL.
 *
 * Every statement chronicle executes (in functions, triggers, observers and
 * procedures) goes through these wrappers, and nothing else in src/ calls
 * SPI_execute*, SPI_prepare*, SPI_keepplan or SPI_cursor_open/fetch (review:
 * `grep -rn 'SPI_\(execute\|prepare\|keepplan\|cursor_open\|cursor_fetch\|scroll_cursor_fetch\|execp\)' src`
 * must find them only in src/pg/spi.cpp).
 *
 * The rule they enforce: a statement is parsed, analysed, planned and run
 * with `search_path = pg_catalog, pg_temp` in force for its whole execution.
 * Pinning at prepare time is not enough: the plan cache re-analyses a saved
 * plan under the search_path current when it runs, so an operator `=` in a
 * schema the caller put before pg_catalog would otherwise be chosen at
 * execution time, and run with whatever rights chronicle holds then.
 *
 * How: the path is set exactly as a function's `SET search_path` clause sets
 * it (fmgr_security_definer): NewGUCNestLevel(), set_config_option(...,
 * GUC_ACTION_SAVE), run, AtEOXact_GUC(true, level).  If the statement raises
 * an error, the longjmp leaves the nest level in place and the (sub)transaction
 * abort that must follow (boundary.h rule 3: an error is never swallowed)
 * unwinds it, as it does for SET clauses.  When the path in force already is
 * the pinned one (inside chronicle's SQL functions, or inside pin_begin()), the
 * GUC work is skipped: the path the plan cache sees is then the pinned one.
 *
 * User objects are reached only by OID or by names chronicle quoted and
 * schema-qualified itself; the SQL given here must be a single statement.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/snapshot.h"
}

namespace pg::spi {

/* The search_path every statement chronicle runs sees. */
inline constexpr const char *PINNED_SEARCH_PATH = "pg_catalog, pg_temp";

/*
 * Pin the path for a stretch of several statements (a loop of executions);
 * returns the GUC nest level to hand to pin_end, or -1 when it was pinned
 * already.  On error the (sub)transaction abort unwinds it.
 */
int pin_begin();
void pin_end(int level);

/*
 * Around code another role chose that chronicle runs in the caller's
 * session as that role (a function reducer as its owner, a projection
 * table's triggers, rules and domains as the table's owner): a fresh GUC
 * nest level with the pinned path, always (even when the path is pinned
 * already), ended with abort semantics, so that every setting the code
 * changed, even with SET or set_config(..., false), is undone when it
 * returns, as PostgreSQL undoes them around index expressions and REFRESH
 * MATERIALIZED VIEW.  Without it a writer's set_config('search_path', ...,
 * false) outlived the appender's call, and the appender's next unqualified
 * operator was the writer's, run with the appender's rights.  On error the
 * (sub)transaction abort unwinds it (sandbox_end may also be called then).
 */
int sandbox_begin();
void sandbox_end(int level);

/* The SPI functions of the same names, run under the pinned path. */
int execute(const char *sql, bool read_only, long count);
int execute_with_args(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
                      bool read_only, long count);
int execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count);
int execute_plan_extended(SPIPlanPtr plan, const SPIExecuteOptions *options);
int execute_snapshot(SPIPlanPtr plan, Datum *values, const char *nulls, Snapshot snapshot,
                     Snapshot crosscheck_snapshot, bool read_only, bool fire_triggers, long count);
Portal cursor_open(const char *name, SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only);
void cursor_fetch(Portal portal, bool forward, long count);

/*
 * The next count rows of a cursor, forward, into SPI_tuptable; false when
 * none is left.  For the loops that walk a result in batches (checking for
 * interrupts between them):  while (pg::spi::fetch_batch(cursor, 1000)) ...
 */
inline bool fetch_batch(Portal portal, long count)
{
    CHECK_FOR_INTERRUPTS();
    cursor_fetch(portal, true, count);
    return SPI_processed > 0;
}

/*
 * A plan prepared under the pinned path (not kept: freed with SPI_finish);
 * cursor_options as SPI_prepare_cursor takes them.  Raises on failure.
 */
SPIPlanPtr prepare(const char *sql, int nargs, const Oid *argtypes, int cursor_options = 0);

/*
 * *slot, prepared from sql the first time (SPI connected) and kept for the
 * backend's lifetime.  A kept plan survives DDL: the plan cache re-analyses
 * its query text when a table it uses changes (even after DROP and CREATE
 * EXTENSION), always under the pinned path since it only runs through here.
 */
SPIPlanPtr kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes,
                     int cursor_options = 0);

/* prepare() and keep the plan (the caller caches it). */
SPIPlanPtr prepare_kept(const char *sql, int nargs, const Oid *argtypes, int cursor_options = 0);

} // namespace pg::spi
