/*
 * spi.cpp: the only place in chronicle that calls SPI's execution, prepare
 * and cursor functions (spi.h explains the rule).
 */
#include "pg/spi.h"

extern "C" {
#include "catalog/namespace.h"
#include "utils/guc.h"
}

#include <cstring>

namespace pg::spi {

int pin_begin()
{
    /* Already in force (a SET clause of a chronicle function, or an outer
     * pin_begin): nothing can re-analyse under another path meanwhile. */
    if (namespace_search_path && strcmp(namespace_search_path, PINNED_SEARCH_PATH) == 0)
        return -1;
    int level = NewGUCNestLevel();
    (void) set_config_option("search_path", PINNED_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                             true, 0, false);
    return level;
}

void pin_end(int level)
{
    if (level >= 0)
        AtEOXact_GUC(true, level);
}

int sandbox_begin()
{
    int level = NewGUCNestLevel();
    (void) set_config_option("search_path", PINNED_SEARCH_PATH, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                             true, 0, false);
    return level;
}

void sandbox_end(int level)
{
    /* false: what the code SET at this level or deeper is discarded too. */
    AtEOXact_GUC(false, level);
}

int execute(const char *sql, bool read_only, long count)
{
    int level = pin_begin();
    int rc = SPI_execute(sql, read_only, count);
    pin_end(level);
    return rc;
}

int execute_with_args(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
                      bool read_only, long count)
{
    int level = pin_begin();
    int rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, count);
    pin_end(level);
    return rc;
}

int execute_plan(SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only, long count)
{
    int level = pin_begin();
    int rc = SPI_execute_plan(plan, values, nulls, read_only, count);
    pin_end(level);
    return rc;
}

int execute_plan_extended(SPIPlanPtr plan, const SPIExecuteOptions *options)
{
    int level = pin_begin();
    int rc = SPI_execute_plan_extended(plan, options);
    pin_end(level);
    return rc;
}

int execute_snapshot(SPIPlanPtr plan, Datum *values, const char *nulls, Snapshot snapshot,
                     Snapshot crosscheck_snapshot, bool read_only, bool fire_triggers, long count)
{
    int level = pin_begin();
    int rc = SPI_execute_snapshot(plan, values, nulls, snapshot, crosscheck_snapshot, read_only, fire_triggers,
                                  count);
    pin_end(level);
    return rc;
}

Portal cursor_open(const char *name, SPIPlanPtr plan, Datum *values, const char *nulls, bool read_only)
{
    int level = pin_begin();
    Portal portal = SPI_cursor_open(name, plan, values, nulls, read_only);
    pin_end(level);
    return portal;
}

void cursor_fetch(Portal portal, bool forward, long count)
{
    int level = pin_begin();
    SPI_cursor_fetch(portal, forward, count);
    pin_end(level);
}

SPIPlanPtr prepare(const char *sql, int nargs, const Oid *argtypes, int cursor_options)
{
    int level = pin_begin();
    SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, const_cast<Oid *>(argtypes), cursor_options);
    pin_end(level);
    if (plan == NULL)
        elog(ERROR, "chronicle: SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
    return plan;
}

SPIPlanPtr prepare_kept(const char *sql, int nargs, const Oid *argtypes, int cursor_options)
{
    SPIPlanPtr plan = prepare(sql, nargs, argtypes, cursor_options);
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "chronicle: SPI_keepplan failed");
    return plan;
}

SPIPlanPtr kept_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *argtypes, int cursor_options)
{
    if (*slot == NULL)
        *slot = prepare_kept(sql, nargs, argtypes, cursor_options);
    return *slot;
}

} // namespace pg::spi
