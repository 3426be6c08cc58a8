/*
 * chronicle.cpp: the module's entry: magic block, load-time setup, version().
 */
#include "pg/boundary.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
PG_FUNCTION_INFO_V1(chronicle_version);
}

void types_init(void); /* src/types: the strict_types GUC, schema cache callbacks */
void tree_init(void);  /* src/tree: relcache and transaction callbacks */
void reducers_init(void); /* src/replay: re-resolving function reducers' signatures */
void snapshots_init(void); /* src/snapshots: replay start hook, append observer, policy cache */
/* After snapshots: its replay start hook falls back to the one installed before it. */
void projections_init(void); /* src/projections: the append observer, its cache callbacks */
void citus_guard_init(void); /* src/citus: NULL stream ids kept from Citus's call delegation */

/* Called once per backend when the library is loaded.  Modules that define
 * GUCs or register cache callbacks add their init call here. */
void _PG_init(void)
{
    types_init();
    tree_init();
    reducers_init();
    snapshots_init();
    projections_init();
    citus_guard_init();
    /* After every module has defined its settings: a misspelt chronicle.* is an error. */
    MarkGUCPrefixReserved("chronicle");
}

Datum chronicle_version(PG_FUNCTION_ARGS)
{
    return pg::entry([&] { return CStringGetTextDatum(CHRONICLE_VERSION); });
}
