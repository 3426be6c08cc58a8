/*
 * exec.cpp: running maintenance statements, and the tree locks.
 *
 * Locks (advisory, transaction scope, in chronicle's own key space: field4 of
 * the advisory lock tag is 0x5401 for a table, 0x5402 for a tree):
 *   - every structural write takes the tree lock (table, hash of scope)
 *     exclusively before it reads any numbering;
 *   - on a table with a scope column, writers also hold the table lock shared;
 *     a plain UPDATE or DELETE takes it exclusively in its BEFORE STATEMENT
 *     trigger, before it locks any row, because it cannot know its scopes yet
 *     and must not hold a row that a tree-lock holder is about to shift;
 *   - on a table without scope, the table lock alone is the tree lock.
 * Readers take no lock.  Locks are always taken table first, then scopes in
 * ascending key order, so writers cannot wait on each other in a cycle.
 * Before any of them, the table itself is locked (ROW EXCLUSIVE, what its
 * INSERT, UPDATE or DELETE statements take anyway): tree_detach locks it
 * ACCESS EXCLUSIVE before the tree lock, and a writer that took the tree
 * lock first would wait for the table while holding what the detach waits
 * for (docs/design/locking.md; isolation spec locks_tree_detach).
 *
 * An INSERT ... ON CONFLICT DO UPDATE fires the statement trigger for
 * INSERT (table lock shared, on a scoped table) and then for UPDATE
 * (exclusive).  Two such statements holding the share would each wait for
 * the other's; so the UPDATE trigger trades a share taken by the INSERT
 * trigger of the same statement, which has locked no row yet, for the
 * exclusive lock (tree_lock_table_upgrade; isolation spec locks_tree_upsert).
 *
 * Maintenance statements run with the latest snapshot (taken after the lock,
 * so they see every earlier writer's commit).  Under REPEATABLE READ or
 * SERIALIZABLE the transaction snapshot is the crosscheck: touching a row that
 * a concurrent transaction changed raises a serialization failure (40001)
 * instead of computing numbers from a stale view.  This is what the foreign
 * key triggers do.
 */
#include "tree/tree.h"
#include "pg/spi.h"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "nodes/params.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

static int busy_level = 0;
/* The trigger depth (pg_trigger_depth) of the innermost maintenance
 * statement running: only its own rows skip the tree triggers. */
static int busy_depth = -1;
static uint64 generation = 0;

/*
 * Mirrors busy_level > 0 as the read-only setting chronicle.tree_maintenance,
 * which the WHEN clause of the guard trigger reads: rows chronicle renumbers
 * then skip the trigger altogether (one comparison per row, no trigger call).
 */
bool tree_maintenance_setting = false;

static void set_busy(int level)
{
    busy_level = level;
    tree_maintenance_setting = level > 0;
}

bool tree_busy(int statement_depth)
{
    /*
     * Only the maintenance statement's own rows: a trigger of the table's
     * owner fired by it runs its statements one level deeper, and what they
     * write (this table or another role's) is guarded and maintained as any
     * statement's is.  Otherwise a writer's trigger on the writer's own tree
     * table wrote lft of a superuser's tree table past TR005.
     */
    return busy_level > 0 && statement_depth == busy_depth;
}

uint64 tree_generation(void)
{
    return generation;
}

/*
 * Whose eyes a maintenance statement's errors meet.  Maintenance runs as the
 * table's owner, and PostgreSQL describes a row or key that fails a
 * constraint (DETAIL "Failing row contains (...)", "Key (...)=(...)") by the
 * privileges of the role running the statement: the owner's.  The error goes
 * to the role whose statement caused the maintenance, which may not read
 * those rows (a role with INSERT only: a neighbour's columns, shown because
 * its renumbering failed the owner's CHECK).  tree_switch_to_owner notes
 * whether that role may read them all: it has the owner's rights, or SELECT
 * on the whole table and the error concerns that table.  Otherwise tree_run
 * drops the DETAIL of an integrity (class 23) or check option (44) error,
 * as PostgreSQL itself leaves it out for a role without SELECT
 * (sql/security_tree_errors.sql).
 */
struct ErrorViewer
{
    bool hide;       /* drop the DETAIL of constraint errors... */
    bool table_only; /* ...unless about this table (schema.rel), which the caller may read */
    NameData nsp, rel;
};
static ErrorViewer viewer = {false, false, {{0}}, {{0}}};

static bool hides_detail(const ErrorViewer *v, const ErrorData *e)
{
    if (!v->hide || e->detail == NULL)
        return false;
    int cls = ERRCODE_TO_CATEGORY(e->sqlerrcode);
    if (cls != ERRCODE_TO_CATEGORY(ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION) &&
        cls != ERRCODE_TO_CATEGORY(ERRCODE_WITH_CHECK_OPTION_VIOLATION))
        return false;
    return !(v->table_only && e->schema_name && e->table_name && strcmp(e->schema_name, NameStr(v->nsp)) == 0 &&
             strcmp(e->table_name, NameStr(v->rel)) == 0);
}

/*
 * Execute a prepared maintenance statement.  While it runs, the tree triggers
 * of every table stand aside (the statement itself keeps the numbering); the
 * level is restored however the statement ends.
 */
int tree_run(SPIPlanPtr plan, Datum *values, const char *nulls, bool write)
{
    volatile int rc = 0;
    int saved_depth = busy_depth;
    /* Nested maintenance (an owner's trigger) notes its own viewer: ours again after it. */
    ErrorViewer v = viewer;
    MemoryContext cxt = CurrentMemoryContext;
    if (write)
    {
        generation++;
        busy_depth = tree_trigger_depth();
        set_busy(busy_level + 1);
    }
    PG_TRY();
    {
        CommandCounterIncrement();
        Snapshot latest = GetLatestSnapshot();
        Snapshot cross = IsolationUsesXactSnapshot() ? GetTransactionSnapshot() : InvalidSnapshot;
        rc = pg::spi::execute_snapshot(plan, values, nulls, latest, cross, !write, true, 0);
    }
    PG_CATCH();
    {
        if (write)
        {
            set_busy(busy_level - 1);
            busy_depth = saved_depth;
        }
        viewer = v;
        MemoryContextSwitchTo(cxt);
        ErrorData *e = CopyErrorData();
        if (hides_detail(&v, e))
        {
            FlushErrorState();
            pfree(e->detail);
            e->detail = NULL;
            ReThrowError(e);
        }
        FreeErrorData(e);
        PG_RE_THROW();
    }
    PG_END_TRY();
    if (write)
    {
        set_busy(busy_level - 1);
        busy_depth = saved_depth;
    }
    viewer = v;
    if (rc < 0)
        elog(ERROR, "chronicle: tree statement failed: %s", SPI_result_code_string(rc));
    return rc;
}

/*
 * Run a read-only maintenance query with the latest snapshot (as tree_run
 * does), handing each row to dest as it is produced instead of collecting
 * them all in SPI_tuptable.
 */
void tree_read(SPIPlanPtr plan, Datum *values, const char *nulls, DestReceiver *dest)
{
    int nargs = SPI_getargcount(plan);
    ParamListInfo params = makeParamList(nargs);
    for (int i = 0; i < nargs; i++)
    {
        params->params[i].value = values[i];
        params->params[i].isnull = nulls && nulls[i] == 'n';
        params->params[i].pflags = PARAM_FLAG_CONST;
        params->params[i].ptype = SPI_getargtypeid(plan, i);
    }
    params->numParams = nargs;
    CommandCounterIncrement();
    /* A read-only SPI execution runs with the active snapshot; an error pops
     * it with the (sub)transaction. */
    PushActiveSnapshot(GetLatestSnapshot());
    SPIExecuteOptions opts;
    memset(&opts, 0, sizeof(opts));
    opts.params = params;
    opts.read_only = true;
    opts.dest = dest;
    int rc = pg::spi::execute_plan_extended(plan, &opts);
    PopActiveSnapshot();
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: tree query failed: %s", SPI_result_code_string(rc));
}

static void advisory(Oid relid, uint32 key, uint16 kind, LOCKMODE mode)
{
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) relid, key, kind);
    (void) LockAcquire(&tag, mode, false, false);
}

static void table_tag(TreeInfo *ti, LOCKTAG *tag)
{
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ti->relid, 0, 0x5401);
}

void tree_lock_table(TreeInfo *ti, bool exclusive)
{
    tree_lock_relation(ti->relid, exclusive);
}

void tree_lock_relation(Oid relid, bool exclusive)
{
    /* The table before its tree lock (above); a no-op for a statement's trigger. */
    LockRelationOid(relid, RowExclusiveLock);
    advisory(relid, 0, 0x5401, exclusive ? ExclusiveLock : ShareLock);
}

/*
 * The statement whose INSERT trigger took the table lock shared (and did not
 * hold it before): identified by transaction, command and trigger depth,
 * which an ON CONFLICT DO UPDATE's UPDATE trigger shares with it.
 */
static struct
{
    Oid relid;
    LocalTransactionId lxid;
    CommandId cid;
    int depth;
} shared_by_insert;

void tree_lock_table_for_insert(TreeInfo *ti)
{
    LOCKTAG tag;
    table_tag(ti, &tag);
    bool held = LockHeldByMe(&tag, ShareLock) || LockHeldByMe(&tag, ExclusiveLock);
    tree_lock_table(ti, false);
    shared_by_insert.relid = held ? InvalidOid : ti->relid;
    shared_by_insert.lxid = MyProc->lxid;
    shared_by_insert.cid = GetCurrentCommandId(false);
    shared_by_insert.depth = tree_trigger_depth();
}

void tree_lock_table_upgrade(TreeInfo *ti)
{
    if (shared_by_insert.relid == ti->relid && shared_by_insert.lxid == MyProc->lxid &&
        shared_by_insert.cid == GetCurrentCommandId(false) && shared_by_insert.depth == tree_trigger_depth())
    {
        /* Taken by this statement's INSERT trigger, nothing locked since:
         * given back, so that waiting for the exclusive lock holds nothing
         * another upsert's waits for. */
        LOCKTAG tag;
        table_tag(ti, &tag);
        if (!LockHeldByMe(&tag, ExclusiveLock))
            LockRelease(&tag, ShareLock, false);
    }
    shared_by_insert.relid = InvalidOid;
    tree_lock_table(ti, true);
}

static uint32 scope_key(TreeInfo *ti, Datum scope, bool isnull)
{
    if (isnull)
        return 0;
    return DatumGetUInt32(FunctionCall1Coll(&ti->scope_hash, ti->scope_coll, scope));
}

void tree_lock_scope(TreeInfo *ti, Datum scope, bool isnull)
{
    if (!ti->scope_att)
    {
        tree_lock_table(ti, true);
        return;
    }
    advisory(ti->relid, scope_key(ti, scope, isnull), 0x5402, ExclusiveLock);
}

void tree_lock_for_write(TreeInfo *ti, Datum scope, bool isnull)
{
    if (ti->scope_att)
        tree_lock_table(ti, false);
    tree_lock_scope(ti, scope, isnull);
}

/* Maintenance run by a trigger runs as the table's owner (as foreign key
 * checks do), so a role that may insert a row need not be able to update the
 * numbering of its neighbours.  Restored on error by transaction abort. */
Oid tree_switch_to_owner(TreeInfo *ti, int *save_sec)
{
    Oid save_user;
    GetUserIdAndSecContext(&save_user, save_sec);
    viewer.hide = !has_privs_of_role(save_user, ti->owner);
    viewer.table_only = viewer.hide && pg_class_aclcheck(ti->relid, save_user, ACL_SELECT) == ACLCHECK_OK;
    if (viewer.table_only)
    {
        char *nsp = get_namespace_name(get_rel_namespace(ti->relid));
        char *rel = get_rel_name(ti->relid);
        namestrcpy(&viewer.nsp, nsp ? nsp : "");
        namestrcpy(&viewer.rel, rel ? rel : "");
    }
    SetUserIdAndSecContext(ti->owner,
                           *save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
    return save_user;
}

void tree_switch_back(Oid user, int sec)
{
    SetUserIdAndSecContext(user, sec);
    viewer.hide = viewer.table_only = false;
}

int32 tree_get_int(HeapTuple tup, TupleDesc desc, int col, bool *isnull)
{
    bool n;
    Datum d = SPI_getbinval(tup, desc, col, &n);
    if (isnull)
        *isnull = n;
    return n ? 0 : DatumGetInt32(d);
}

extern "C" {
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
}

/* pg_trigger_depth(): statements nested in triggers have a greater depth. */
int tree_trigger_depth(void)
{
    LOCAL_FCINFO(fc, 0);
    InitFunctionCallInfoData(*fc, NULL, 0, InvalidOid, NULL, NULL);
    return DatumGetInt32(pg_trigger_depth(fc));
}

char *tree_id_text(TreeInfo *ti, Datum id)
{
    Oid out;
    bool varlena;
    getTypeOutputInfo(ti->id_type, &out, &varlena);
    return OidOutputFunctionCall(out, id);
}

/* The scope value as text (how scopes are told apart and reported). */
char *tree_scope_text(TreeInfo *ti, Datum scope, bool isnull)
{
    if (!ti->scope_att || isnull)
        return pstrdup("");
    Oid out;
    bool varlena;
    getTypeOutputInfo(ti->scope_type, &out, &varlena);
    return OidOutputFunctionCall(out, scope);
}
