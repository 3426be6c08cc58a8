/*
 * api.cpp: chronicle.take_snapshot, the trigger that keeps the policies
 * current, and the module's load-time setup.
 */
#include "snapshots/snapshots.h"

#include "errors.h"
#include "pg/boundary.h"
#include "pg/callbacks.h"
#include "snapshots/catalog.h"
#include "snapshots/store.h"

extern "C" {
#include "miscadmin.h"
#include "utils/builtins.h"
}

void snapshots_init(void)
{
    snapshots_catalog_init();
    replay_start_hook = snapshot_start;
    events_observe_appends(snapshot_observe);
}

/* chronicle.take_snapshot(stream_id text, reducer text) RETURNS bigint */
SQL_FUNCTION(chronicle_take_snapshot)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "stream_id must not be NULL");
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "reducer must not be NULL");
    /* 25006 on a standby or in a read-only transaction, before any lock. */
    pg::guard([&] { PreventCommandIfReadOnly("chronicle.take_snapshot()"); });
    text *stream_id = PG_GETARG_TEXT_PP(0);
    char *reducer = text_to_cstring(PG_GETARG_TEXT_PP(1));
    PG_RETURN_INT64(snapshot_store(stream_id, reducer, 0));
}

/*
 * Trigger on chronicle.reducers: every backend reads the policies again
 * (the relcache callback of catalog.cpp), this one at the next command.
 */
SQL_FUNCTION(chronicle_snapshot_policies_changed)
{
    pg::callbacks::invalidate_trigger_table(fcinfo, "chronicle._snapshot_policies_changed()");
    return PointerGetDatum(nullptr);
}
