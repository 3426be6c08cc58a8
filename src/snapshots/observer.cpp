/*
 * observer.cpp: automatic snapshots, written inside the appending
 * transaction (an append observer, src/events/observers.h).
 *
 * A reducer with a category and snapshot_every N gets a snapshot when an
 * append to a stream of that category crosses a multiple of N.  An
 * append_batch that crosses several gets one, at the last multiple crossed:
 * the earlier ones would never be used by a replay of the stream's current
 * end, and each costs a replay.  The snapshot is part of the append: rolled
 * back with it, and an error computing it (a rules reducer that cannot
 * apply, SE004) fails the append as a trigger's error would.
 *
 * The replay reads with the appending user's rights.  A function
 * reducer's function runs as the function's owner, under
 * SECURITY_RESTRICTED_OPERATION with search_path pinned to pg_catalog,
 * pg_temp (replay.h, REDUCER_AS_FUNCTION_OWNER), as PostgreSQL runs a table
 * owner's index expressions during maintenance.  Not as the appending user:
 * any chronicle_writer may define a reducer with a category, and would
 * otherwise have its code run with the rights of whoever appends to that
 * category next (a superuser, say).  Not as chronicle's owner either.  When
 * the function's owner may not execute it (or it was dropped), the snapshot
 * is skipped, silently but for a DEBUG1 message: an optimisation must not
 * make an append fail.
 */
#include "snapshots/snapshots.h"
#include "errors.h"
#include "events/observers.h"
#include "pg/boundary.h"
#include "replay/reducer.h"
#include "snapshots/catalog.h"
#include "snapshots/store.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
}

/*
 * Whether reducer `name`'s automatic snapshot can be computed now; SPI
 * connected.  A function reducer's function runs as its owner, who must be
 * allowed to execute it (replay.h, REDUCER_AS_FUNCTION_OWNER).
 */
static bool can_replay(const char *name)
{
    Reducer *r;
    try
    {
        r = reducer_get(name);
    }
    catch (const pg::Error &e)
    {
        /* Dropped since the policies were read (by a direct DELETE). */
        if (e.code() == CHRONICLE_INVALID_REDUCER)
            return false;
        throw;
    }
    if (!r->fn_text)
        return true;
    if (!OidIsValid(r->fn))
        return false;
    HeapTuple proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(r->fn));
    if (!HeapTupleIsValid(proc))
        return false;
    Oid owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->proowner;
    ReleaseSysCache(proc);
    /* Not the reducer owner's choice any more (reducer.h): no snapshot. */
    if (!has_privs_of_role(r->owner, owner))
        return false;
    return pg_proc_aclcheck(r->fn, owner, ACL_EXECUTE) == ACLCHECK_OK;
}

static void snapshot_auto(text *stream_id, const char *reducer, int64 version)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    bool ok;
    try
    {
        ok = can_replay(reducer);
    }
    catch (...)
    {
        SPI_finish();
        throw;
    }
    SPI_finish();
    if (!ok)
    {
        ereport(DEBUG1, (errmsg("chronicle: no automatic snapshot of stream \"%s\" for reducer \"%s\": "
                                "its function is gone, or its owner may not run it",
                                text_to_cstring(stream_id), reducer)));
        return;
    }
    snapshot_store(stream_id, reducer, version, REDUCER_AS_FUNCTION_OWNER);
}

void snapshot_observe(const AppendedEvents *appended)
{
    int n;
    const SnapshotPolicy *policies = snapshots_policies(&n);
    if (n == 0)
        return;
    /* What to do, copied first: a function reducer may append and reload the policies. */
    struct Due
    {
        char *reducer;
        int64 version;
    };
    Due *due = nullptr;
    int ndue = 0;
    for (int i = 0; i < n; i++)
    {
        if (strcmp(policies[i].category, appended->category) != 0)
            continue;
        int64 last_multiple = appended->last_version - appended->last_version % policies[i].every;
        if (last_multiple < appended->first_version)
            continue;
        if (!due)
            due = static_cast<Due *>(palloc(sizeof(Due) * n));
        due[ndue].reducer = pstrdup(policies[i].reducer);
        due[ndue].version = last_multiple;
        ndue++;
    }
    for (int i = 0; i < ndue; i++)
        snapshot_auto(appended->stream_id, due[i].reducer, due[i].version);
}
