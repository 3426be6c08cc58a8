/*
 * catalog.cpp: the per-backend cache of catalog.h.
 *
 * Staleness is a generation count bumped by the relcache callback; a cache
 * remembers the generation it was read at and is read again when they
 * differ.  The policies are read with the latest snapshot (also in
 * REPEATABLE READ), taken after the generation was noted, so a definition
 * committed before an invalidation we processed is always seen, and one
 * committed later bumps the generation again.
 */
#include "snapshots/catalog.h"
#include "pg/callbacks.h"
#include "pg/spi.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

static uint64 generation = 1;
static Oid reducers_relid = InvalidOid;

static SnapshotsCatalog catalog;
static uint64 catalog_generation = 0;

static MemoryContext policies_cxt = nullptr;
static SnapshotPolicy *policies = nullptr;
static int npolicies = 0;
static uint64 policies_generation = 0;

static void relcache_callback(Datum, Oid relid)
{
    if (relid == InvalidOid || relid == reducers_relid || relid == catalog.snapshots)
        generation++;
}

void snapshots_catalog_init(void)
{
    pg::callbacks::on_relcache(relcache_callback, (Datum) 0);
}

static Oid chronicle_table(const char *name)
{
    Oid rel = get_relname_relid(name, get_namespace_oid("chronicle", false));
    if (!OidIsValid(rel))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("chronicle.%s does not exist", name)));
    return rel;
}

const SnapshotsCatalog *snapshots_catalog(void)
{
    if (catalog_generation == generation)
        return &catalog;
    uint64 seen = generation;
    Oid rel = chronicle_table("snapshots");
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "chronicle: cache lookup failed for relation %u", rel);
    Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    reducers_relid = chronicle_table("reducers");
    catalog.snapshots = rel;
    catalog.owner = owner;
    catalog_generation = seen;
    return &catalog;
}

const SnapshotPolicy *snapshots_policies(int *n)
{
    if (policies_generation == generation)
    {
        *n = npolicies;
        return policies;
    }
    uint64 seen = generation;
    const SnapshotsCatalog *cat = snapshots_catalog();

    static SPIPlanPtr plan = nullptr;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    pg::spi::kept_plan(&plan,
                  "SELECT r.name, r.category, r.snapshot_every FROM chronicle.reducers r"
                  " WHERE r.category IS NOT NULL AND r.snapshot_every IS NOT NULL",
                  0, nullptr);
    /* As the owner: the policies are the same whoever appends. */
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(cat->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    /*
     * The latest snapshot, taken after the generation was noted: every
     * definition committed before an invalidation we processed is seen.  Not
     * the transaction's: in REPEATABLE READ it may predate that definition,
     * and the list, cached as current, would miss it in later transactions too.
     */
    int rc = pg::spi::execute_snapshot(plan, nullptr, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, 0);
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the snapshot policies failed: %s", SPI_result_code_string(rc));

    if (!policies_cxt)
        policies_cxt = AllocSetContextCreate(CacheMemoryContext, "chronicle snapshot policies",
                                             ALLOCSET_SMALL_SIZES);
    MemoryContextReset(policies_cxt);
    policies = nullptr;
    npolicies = 0;
    int count = static_cast<int>(SPI_processed);
    if (count > 0)
    {
        SnapshotPolicy *list = static_cast<SnapshotPolicy *>(
            MemoryContextAllocZero(policies_cxt, sizeof(SnapshotPolicy) * count));
        for (int i = 0; i < count; i++)
        {
            HeapTuple tuple = SPI_tuptable->vals[i];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull;
            list[i].reducer = MemoryContextStrdup(policies_cxt, SPI_getvalue(tuple, desc, 1));
            list[i].category = MemoryContextStrdup(policies_cxt, SPI_getvalue(tuple, desc, 2));
            list[i].every = DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull));
        }
        policies = list;
        npolicies = count;
    }
    SPI_finish();
    policies_generation = seen;
    *n = npolicies;
    return policies;
}
