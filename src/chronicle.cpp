/*
 * chronicle.cpp: the module's entry: magic block, load-time setup, version().
 */
#include "citus/guard.h"
#include "pg/boundary.h"
#include "projections/projections.h"
#include "replay/reducer.h"
#include "snapshots/snapshots.h"
#include "tree/tree.h"
#include "types/types.h"

extern "C" {
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);
}

/* Called once per backend when the library is loaded.  Modules that define
 * GUCs or register cache callbacks add their init call here. */
void _PG_init(void)
{
    types_init();      /* the strict_types GUC, schema cache callbacks */
    tree_init();       /* relcache and transaction callbacks */
    reducers_init();   /* re-resolving function reducers' signatures */
    snapshots_init();  /* replay start hook, append observer, policy cache */
    /* After snapshots: its replay start hook falls back to the one installed before it. */
    projections_init(); /* the append observer, its cache callbacks */
    citus_guard_init(); /* NULL stream ids kept from Citus's call delegation */
    /* After every module has defined its settings: a misspelt chronicle.* is an error. */
    MarkGUCPrefixReserved("chronicle");
}

SQL_FUNCTION(chronicle_version)
{
    return CStringGetTextDatum(CHRONICLE_VERSION);
}
