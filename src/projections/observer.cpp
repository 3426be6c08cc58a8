/*
 * observer.cpp: keeping projections current inside every append.
 *
 * Each backend keeps the list of projections in memory.  An append with no
 * projection defined costs one test of that memory; the list is reloaded
 * only after an invalidation: define/drop_projection send a relcache
 * invalidation of chronicle.projections (row writes send none), and a
 * change to a projection's table (ALTER, rename, new owner) or to any schema
 * or type (the SQL names them) sends its own.
 *
 * For a covered stream the observer replays the stream with the reducer
 * (once per reducer and table owner, however many projections share them),
 * then upserts the stream's row; both run as the table's owner, restricted.
 * replay_stream starts from the newest snapshot when the snapshots module
 * provides one (replay_start_hook), so the cost per append is that of the
 * events since it (docs/design/projections.md).
 */
#include "projections/projections.h"
#include "pg/callbacks.h"
#include "pg/spi.h"

#include "errors.h"
#include "events/observers.h"
#include "pg/boundary.h"
#include "replay/replay.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

struct Projection
{
    char *name;
    char *reducer;
    char *category; /* NULL: every stream */
    Oid relid;
    Jsonb *columns;
    bool prepared;
    bool changed; /* a relcache invalidation of its table since it was prepared */
    ProjTarget target;
    SPIPlanPtr upsert;
};

struct ProjectionList
{
    MemoryContext cxt;
    int n;
    Projection *items; /* ordered by reducer, so one replay serves a run of them */
    ProjectionList *older; /* replaced while an observer was still reading them */
    SPIPlanPtr *retired;   /* statements prepared again (lock_table); freed with the list */
    int nretired, maxretired;
};

static ProjectionList *current = nullptr;
/* The lists current replaced, while load() reads the new one (current is NULL then). */
static ProjectionList *loading_older = nullptr;
static bool valid = false;
static Oid catalog_relid = InvalidOid;
static Oid upcasters_relid = InvalidOid;
static Oid reducers_relid = InvalidOid;
static Oid redactions_relid = InvalidOid; /* a redaction invalidates it: states saw erased data */
static int active = 0; /* observers running (a function reducer may append) */
static bool changed_here = false; /* this transaction defined or dropped one */

static void free_list(ProjectionList *list)
{
    while (list)
    {
        ProjectionList *older = list->older;
        for (int i = 0; i < list->n; i++)
            if (list->items[i].upsert)
                SPI_freeplan(list->items[i].upsert);
        for (int i = 0; i < list->nretired; i++)
            SPI_freeplan(list->retired[i]);
        MemoryContextDelete(list->cxt);
        list = older;
    }
}

static void invalidate(Datum, Oid relid)
{
    /*
     * What changes a replay's result makes the remembered states useless:
     * also a reducer row written directly by the owner, which may reuse a
     * revision (the snapshots module's trigger on chronicle.reducers sends
     * this invalidation for every write to it).
     */
    if (relid == InvalidOid || relid == catalog_relid || relid == upcasters_relid ||
        relid == reducers_relid || relid == redactions_relid)
        states_reset();
    /* Every list an observer may still be using: its statement for that
     * table is prepared again before its next use (lock_table). */
    for (ProjectionList *chain : {current, loading_older})
        for (ProjectionList *l = chain; l; l = l->older)
            for (int i = 0; i < l->n; i++)
                if (relid == InvalidOid || l->items[i].relid == relid)
                    l->items[i].changed = true;
    if (!valid)
        return;
    if (relid == InvalidOid || relid == catalog_relid)
    {
        valid = false;
        return;
    }
    /* A name that resolved to no table (on a cluster: renamed, or not its
     * owner's) may resolve after a change to any table: look again. */
    for (int i = 0; current && i < current->n; i++)
        if (current->items[i].relid == relid || current->items[i].relid == InvalidOid)
            valid = false;
}

/* Schemas and types are named in the prepared SQL; with no projection
 * there is no SQL (a session creating temporary tables sends these often). */
static void invalidate_all(Datum, int, uint32)
{
    if (current && current->n > 0)
        valid = false;
}

/* A function reducer (or anything it calls) replaced. */
static void function_changed(Datum, int, uint32)
{
    states_reset();
}

/*
 * An error leaves `active` counting observers that will never return; at
 * the end of the transaction none runs.  (After a subtransaction's abort an
 * outer observer may still run: the count stays, and lists replaced until
 * the end of the transaction are freed at the next load after it.)
 */
static void xact_end(XactEvent event, void *)
{
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_COMMIT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
    {
        active = 0;
        /* PostgreSQL does not replay the current command's invalidations
         * locally on abort: a definition rolled back may still be listed. */
        if (changed_here)
            valid = false;
        changed_here = false;
    }
}

static void subxact_end(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (event == SUBXACT_EVENT_ABORT_SUB && changed_here)
        valid = false;
}

void projections_changed(void)
{
    valid = false;
    changed_here = true;
}

/*
 * Read chronicle.projections as chronicle's owner, with the newest snapshot:
 * in REPEATABLE READ the transaction's own would miss a projection defined
 * after it began, whose table its appends must keep all the same.
 */
static void load(Oid owner)
{
    ProjectionList *old = current;
    current = nullptr;
    if (old && active == 0)
    {
        free_list(old);
        old = nullptr;
    }
    loading_older = old;

    MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "chronicle projections", ALLOCSET_SMALL_SIZES);
    ProjectionList *list = static_cast<ProjectionList *>(MemoryContextAllocZero(cxt, sizeof(ProjectionList)));
    list->cxt = cxt;
    list->older = old;

    Oid nsp = get_namespace_oid("chronicle", false);
    catalog_relid = get_relname_relid("projections", nsp);
    upcasters_relid = get_relname_relid("upcasters", nsp);
    reducers_relid = get_relname_relid("reducers", nsp);
    redactions_relid = get_relname_relid("erasures", nsp);
    /* Invalidations read from here on may concern what we are about to read. */
    valid = true;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    AsOwner saved;
    as_owner_begin(&saved, owner, false);
    PushActiveSnapshot(GetLatestSnapshot());
    int rc = pg::spi::execute(psprintf("SELECT p.name, p.reducer, p.category, %s, p.columns"
                                       " FROM chronicle.projections p ORDER BY p.reducer, p.name",
                                       projections_table_oid_sql(catalog_relid)),
                              true, 0);
    PopActiveSnapshot();
    as_owner_end(&saved);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle.projections failed: %s", SPI_result_code_string(rc));

    list->n = static_cast<int>(SPI_processed);
    list->items = static_cast<Projection *>(MemoryContextAllocZero(cxt, sizeof(Projection) * Max(list->n, 1)));
    MemoryContext old_cxt = MemoryContextSwitchTo(cxt);
    for (int i = 0; i < list->n; i++)
    {
        HeapTuple tuple = SPI_tuptable->vals[i];
        TupleDesc desc = SPI_tuptable->tupdesc;
        Projection *p = &list->items[i];
        bool isnull;
        p->name = SPI_getvalue(tuple, desc, 1);
        p->reducer = SPI_getvalue(tuple, desc, 2);
        p->category = SPI_getvalue(tuple, desc, 3);
        p->relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 4, &isnull));
        p->columns = DatumGetJsonbPCopy(SPI_getbinval(tuple, desc, 5, &isnull));
    }
    MemoryContextSwitchTo(old_cxt);
    SPI_finish();
    current = list;
    loading_older = nullptr;
}

/* The upsert statement, prepared on first use (SPI connected); kept in the
 * memory of the list p belongs to (a nested load may have replaced it). */
static void prepare(Projection *p, MemoryContext cxt)
{
    MemoryContext old = MemoryContextSwitchTo(cxt);
    target_load(p->name, p->relid, p->columns, &p->target);
    char *sql = target_upsert_sql(&p->target);
    Oid *types = target_upsert_types(&p->target);
    MemoryContextSwitchTo(old);
    SPIPlanPtr plan = pg::spi::prepare_kept(sql, 3 + p->target.ncols, types);
    p->upsert = plan;
    p->prepared = true;
}

static Oid get_rel_owner(Oid relid)
{
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        return GetUserId(); /* gone: target_load says so */
    Oid owner = ((Form_pg_class)GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

/*
 * The upsert statement and the table's owner, before anything of the
 * projection runs: a table dropped by hand fails here (42P01), before its
 * reducer would run.
 */
static void ensure_prepared(ProjectionList *list, Projection *p)
{
    if (p->prepared)
        return;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    /* Prepared as the table's owner: the appender may not even see its schema. */
    AsOwner saved;
    as_owner_begin(&saved, get_rel_owner(p->relid), true);
    prepare(p, list->cxt);
    as_owner_end(&saved);
    SPI_finish();
}

/*
 * The upsert runs as the table's owner, and PostgreSQL describes a row or key
 * that fails a constraint (DETAIL "Failing row contains (...)", "Key
 * (...)=(...)") by the owner's privileges; the error goes to the appender
 * (the current user again), who may not read the table, nor the owner's
 * columns in it.  Left out, as PostgreSQL leaves it out for a role without
 * SELECT, unless the appender has the owner's rights, or SELECT on the
 * projection's table and the error is about that table
 * (sql/security_projection_errors.sql).  After the error was copied and
 * flushed (pg::guard), so the catalog may be read.
 */
static bool detail_hidden(const ErrorData *e, const ProjTarget *t)
{
    if (e->detail == nullptr)
        return false;
    int cls = ERRCODE_TO_CATEGORY(e->sqlerrcode);
    if (cls != ERRCODE_TO_CATEGORY(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION) &&
        cls != ERRCODE_TO_CATEGORY(ERRCODE_WITH_CHECK_OPTION_VIOLATION))
        return false;
    Oid user = GetUserId();
    if (has_privs_of_role(user, t->owner))
        return false;
    if (pg_class_aclcheck(t->relid, user, ACL_SELECT) != ACLCHECK_OK || !e->schema_name || !e->table_name)
        return true;
    const char *nsp = get_namespace_name(get_rel_namespace(t->relid));
    const char *rel = get_rel_name(t->relid);
    return !nsp || !rel || strcmp(nsp, e->schema_name) != 0 || strcmp(rel, e->table_name) != 0;
}

static void upsert(Projection *p, const AppendedEvents *appended, const ReplayResult *state)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    AsOwner saved;
    int nargs = 3 + p->target.ncols;
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * nargs));
    char *nulls = static_cast<char *>(palloc(nargs));
    values[0] = PointerGetDatum(appended->stream_id);
    values[1] = Int64GetDatum(state->version);
    values[2] = state->state ? JsonbPGetDatum(state->state) : (Datum)0;
    nulls[0] = nulls[1] = ' ';
    nulls[2] = state->state ? ' ' : 'n';
    for (int i = 0; i < p->target.ncols; i++)
    {
        values[3 + i] = p->target.paths[i];
        nulls[3 + i] = ' ';
    }

    as_owner_begin(&saved, p->target.owner, true);
    SPIPlanPtr plan = p->upsert;
    int rc = 0;
    ErrorData *failed = nullptr;
    try
    {
        rc = pg::guard([&] { return pg::spi::execute_plan(plan, values, nulls, false, 0); });
    }
    catch (const pg::PgError &e)
    {
        failed = e.data();
    }
    as_owner_end(&saved);
    if (failed)
    {
        if (detail_hidden(failed, &p->target))
        {
            pfree(failed->detail);
            failed->detail = nullptr;
        }
        projection_error(failed, psprintf("projection \"%s\" cannot store stream \"%s\" at version " INT64_FORMAT,
                                          p->name, text_to_cstring(appended->stream_id), state->version));
    }
    if (rc != SPI_OK_INSERT)
        projection_rewritten(p->name, &p->target, rc);
    SPI_finish();
}

/*
 * The projection's table (ROW EXCLUSIVE, level 9 of docs/design/locking.md,
 * which its upsert takes anyway), by oid, before its statement is used: the
 * statement names the table, and a statement prepared by an earlier append
 * and re-planned after a wait for the table named whatever table had that
 * name then (renamed, and another created under its name: the row went
 * there; isolation spec projections_table_waiter).  Held, the table cannot
 * change until we commit; changed before (an invalidation of it arrived),
 * the statement is prepared again from the table as it is.  The old one is
 * kept with the list: an outer observer may be running it.
 */
static void lock_table(ProjectionList *list, Projection *p)
{
    if (!OidIsValid(p->relid))
        return; /* no table: ensure_prepared says so (42P01) */
    LockRelationOid(p->relid, RowExclusiveLock);
    if (p->prepared && p->changed)
    {
        if (list->nretired == list->maxretired)
        {
            int grown = Max(4, list->maxretired * 2);
            SPIPlanPtr *more = static_cast<SPIPlanPtr *>(MemoryContextAlloc(list->cxt, sizeof(SPIPlanPtr) * grown));
            if (list->nretired > 0)
                memcpy(more, list->retired, sizeof(SPIPlanPtr) * list->nretired);
            list->retired = more;
            list->maxretired = grown;
        }
        list->retired[list->nretired++] = p->upsert;
        p->upsert = nullptr;
        p->prepared = false;
    }
    p->changed = false;
}

static bool covers(const Projection *p, const char *category)
{
    return !p->category || strcmp(p->category, category) == 0;
}

static void observe(const AppendedEvents *appended)
{
    /* The common case, with no projection at all: memory only. */
    if (valid && current && current->n == 0)
        return;
    if (!valid || !current)
        load(appended->owner);
    ProjectionList *list = current;
    int first = -1;
    for (int i = 0; i < list->n && first < 0; i++)
        if (covers(&list->items[i], appended->category))
            first = i;
    if (first < 0)
        return;

    /*
     * The stream as it is now: our own events (a new command makes them
     * visible) and, in READ COMMITTED, whatever committed while the append
     * waited for the stream's row, which the statement's snapshot predates.
     * Above READ COMMITTED append has already failed (40001) if anything did.
     */
    CommandCounterIncrement();
    PushCopiedSnapshot(GetTransactionSnapshot());
    UpdateActiveSnapshotCommandId();
    active++;
    ReplayBounds all{};
    ReplayResult state{};
    const char *replayed = nullptr;
    Oid replayed_as = InvalidOid;
    for (int i = first; i < list->n; i++)
    {
        Projection *p = &list->items[i];
        if (!covers(p, appended->category))
            continue;
        lock_table(list, p);
        ensure_prepared(list, p);
        /*
         * The replay reads as the table's owner, restricted, like the
         * upsert, and a function reducer's function runs as the function's
         * owner (replay.h, REDUCER_AS_FUNCTION_OWNER): the appender did not
         * choose the projection's reducer, and running a function reducer
         * with the appender's rights let any writer run code as whoever
         * appends next (a superuser, say), as a trigger on chronicle.events
         * would; with the table owner's rights, any writer who redefines the
         * reducer could run code as that owner.  The function's author gets
         * no more than the author's own rights.  One replay serves a run of
         * projections of the same reducer and owner.
         */
        Oid owner = p->target.owner;
        if (!replayed || strcmp(replayed, p->reducer) != 0 || owner != replayed_as)
        {
            AsOwner saved;
            as_owner_begin(&saved, owner, true);
            uint64 since = states_arm(appended->stream_id, p->reducer, owner, appended->first_version - 1);
            /* An error aborts the (sub)transaction, which restores the user. */
            replay_stream(appended->stream_id, p->reducer, &all, &state, REDUCER_AS_FUNCTION_OWNER);
            states_disarm();
            as_owner_end(&saved);
            states_remember(appended->stream_id, p->reducer, owner, state.revision, state.version, state.state,
                            since);
            replayed = p->reducer;
            replayed_as = owner;
        }
        upsert(p, appended, &state);
    }
    active--;
    PopActiveSnapshot();
}

/*
 * Trigger on chronicle.projections: every backend reloads its list.  define
 * and drop send the same invalidation themselves; on a Citus cluster the
 * trigger also fires on each node's placement of the reference table, in
 * that node's part of the transaction, and so reaches the workers' backends
 * (pg/callbacks.h), where the appends run.
 */
SQL_FUNCTION(chronicle_projections_changed)
{
    pg::callbacks::invalidate_trigger_table(fcinfo, "chronicle._projections_changed()");
    return PointerGetDatum(nullptr);
}

void projections_init(void)
{
    events_observe_appends(observe);
    pg::callbacks::on_relcache(invalidate, (Datum)0);
    pg::callbacks::on_syscache(NAMESPACEOID, invalidate_all, (Datum)0);
    pg::callbacks::on_syscache(TYPEOID, invalidate_all, (Datum)0);
    pg::callbacks::on_syscache(PROCOID, function_changed, (Datum)0);
    states_init();
    pg::callbacks::on_xact(xact_end, nullptr);
    pg::callbacks::on_subxact(subxact_end, nullptr);
}
