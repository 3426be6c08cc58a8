/*
 * chronicle.cpp: the module's entry: magic block, load-time setup, version().
 */
#include "pg/boundary.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

void types_init(void); /* src/types: the strict_types GUC, schema cache callbacks */
void tree_init(void);  /* src/tree: relcache and transaction callbacks */
void reducers_init(void); /* src/replay: re-resolving function reducers' signatures */
void snapshots_init(void); /* src/snapshots: replay start hook, append observer, policy cache */
/* After snapshots: its replay start hook falls back to the one installed before it. */
void projections_init(void); /* src/projections: the append observer, its cache callbacks */

/* Called once per backend when the library is loaded.  Modules that define
 * GUCs or register cache callbacks add their init call here. */
void _PG_init(void)
{
    types_init();
    tree_init();
    reducers_init();
    snapshots_init();
    projections_init();
    /* After every module has defined its settings: a misspelt chronicle.* is an error. */
    MarkGUCPrefixReserved("chronicle");
}

SQL_FUNCTION(chronicle_version)
{
    return CStringGetTextDatum(CHRONICLE_VERSION);
}
