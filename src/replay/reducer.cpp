/*
 * reducer.cpp: the reducer cache (reducer.h) and chronicle.define_reducer.
 *
 * Rows of chronicle.reducers change without any invalidation message, so
 * every lookup reads the row (one index probe through a kept SPI plan) and
 * compares revision, function and rules with the cached entry; only a
 * change recompiles.  An entry replaced while a replay or fold still uses it
 * is retired and freed when its last user's memory context goes away.
 */
#include "replay/reducer.h"
#include "pg/spi.h"

#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(chronicle_define_reducer_rules);
PG_FUNCTION_INFO_V1(chronicle_define_reducer_fn);
}

static Reducer *cache_head = nullptr;
static MemoryContext cache_cxt = nullptr;
static SPIPlanPtr lookup_plan = nullptr;

Oid events_rowtype(void)
{
    Oid nsp = get_namespace_oid("chronicle", false);
    Oid rel = get_relname_relid("events", nsp);
    Oid type = OidIsValid(rel) ? get_rel_type_id(rel) : InvalidOid;
    if (!OidIsValid(type))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("chronicle.events does not exist")));
    return type;
}

static SPIPlanPtr keep(const char *sql, int nargs, Oid *types)
{
    return pg::spi::prepare_kept(sql, nargs, types);
}

static void entry_free(Reducer *r)
{
    MemoryContextDelete(r->cxt);
}

static void unpin(void *arg)
{
    Reducer *r = static_cast<Reducer *>(arg);
    if (--r->pins == 0 && r->retired)
        entry_free(r);
}

void reducer_pin(Reducer *r, MemoryContext owner)
{
    MemoryContextCallback *cb =
        static_cast<MemoryContextCallback *>(MemoryContextAlloc(owner, sizeof(MemoryContextCallback)));
    cb->func = unpin;
    cb->arg = r;
    MemoryContextRegisterResetCallback(owner, cb);
    r->pins++;
}

static void retire(Reducer *r)
{
    for (Reducer **p = &cache_head; *p; p = &(*p)->next)
        if (*p == r)
        {
            *p = r->next;
            break;
        }
    r->retired = true;
    if (r->pins == 0)
        entry_free(r);
}

Reducer *reducer_get(const char *name)
{
    if (!lookup_plan)
    {
        Oid types[1] = {TEXTOID};
        lookup_plan = keep("SELECT r.revision, r.rules, r.fn::pg_catalog.oid FROM chronicle.reducers r "
                           "WHERE r.name OPERATOR(pg_catalog.=) $1",
                           1, types);
    }
    Datum args[1] = {CStringGetTextDatum(name)};
    int rc = pg::spi::execute_plan(lookup_plan, args, nullptr, true, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reducer lookup failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        throw pg::Error(CHRONICLE_INVALID_REDUCER, pg::format("reducer \"%s\" does not exist", name), "",
                        "Define it with chronicle.define_reducer().");

    HeapTuple tuple = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    int32 revision = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
    Datum rules_datum = SPI_getbinval(tuple, desc, 2, &isnull);
    Jsonb *rules = isnull ? nullptr : DatumGetJsonbP(rules_datum);
    Datum fn_datum = SPI_getbinval(tuple, desc, 3, &isnull);
    Oid fn = isnull ? InvalidOid : DatumGetObjectId(fn_datum);

    for (Reducer *r = cache_head; r; r = r->next)
    {
        if (strcmp(r->name, name) != 0)
            continue;
        bool same_rules = (!r->rules && !rules) ||
                          (r->rules && rules && VARSIZE(r->rules) == VARSIZE(rules) &&
                           memcmp(r->rules, rules, VARSIZE(rules)) == 0);
        if (r->revision == revision && r->fn == fn && same_rules)
            return r;
        retire(r);
        break;
    }

    if (!cache_cxt)
        cache_cxt = AllocSetContextCreate(CacheMemoryContext, "chronicle reducers", ALLOCSET_SMALL_SIZES);
    MemoryContext cxt = AllocSetContextCreate(cache_cxt, "chronicle reducer", ALLOCSET_SMALL_SIZES);
    Reducer *r = static_cast<Reducer *>(MemoryContextAllocZero(cxt, sizeof(Reducer)));
    r->cxt = cxt;
    r->name = MemoryContextStrdup(cxt, name);
    r->revision = revision;
    r->fn = fn;
    if (rules)
    {
        r->rules = static_cast<Jsonb *>(MemoryContextAlloc(cxt, VARSIZE(rules)));
        memcpy(r->rules, rules, VARSIZE(rules));
    }

    /* Compile before publishing: a failure leaves the cache as it was. */
    if (rules)
    {
        try
        {
            r->compiled = pg::guard([&] { return rules_compile(name, r->rules, cxt); });
        }
        catch (...)
        {
            MemoryContextDelete(cxt);
            throw;
        }
    }
    r->next = cache_head;
    cache_head = r;
    return r;
}

void reducer_check_function(const Reducer *r, Oid runs_as)
{
    if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(r->fn)))
        throw pg::Error(CHRONICLE_INVALID_REDUCER,
                        pg::format("the function of reducer \"%s\" no longer exists", r->name), "",
                        "Define the reducer again with an existing function.");
    AclResult acl = pg_proc_aclcheck(r->fn, runs_as, ACL_EXECUTE);
    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(r->fn));
    if (r->flinfo.fn_oid != r->fn)
        fmgr_info_cxt(r->fn, const_cast<FmgrInfo *>(&r->flinfo), r->cxt);
}

/* ---------- define_reducer ---------- */

static void check_common_args(FunctionCallInfo fcinfo)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("reducer name must not be NULL")));
    text *name = PG_GETARG_TEXT_PP(0);
    int len = VARSIZE_ANY_EXHDR(name);
    if (len < 1 || len > 255)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("reducer name must be 1 to 255 characters long")));
    if (PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("reducer \"%s\": rules or function must not be NULL", text_to_cstring(name))));
    if (!PG_ARGISNULL(2) && VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("reducer \"%s\": category must not be empty", text_to_cstring(name)),
                        errhint("Pass NULL for a reducer of every category.")));
    if (!PG_ARGISNULL(3) && PG_GETARG_INT32(3) <= 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("reducer \"%s\": snapshot_every must be positive, not %d",
                               text_to_cstring(name), PG_GETARG_INT32(3))));
}

/* A function reducer's signature: fn(state jsonb, event chronicle.events) RETURNS jsonb. */
static void check_function(const char *name, Oid fn)
{
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
    if (!HeapTupleIsValid(tup))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION), errmsg("function %u does not exist", fn)));
    Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tup);
    Oid rowtype = events_rowtype();
    bool ok = proc->prokind == PROKIND_FUNCTION && !proc->proretset && proc->pronargs == 2 &&
              proc->proargtypes.values[0] == JSONBOID && proc->proargtypes.values[1] == rowtype &&
              proc->prorettype == JSONBOID;
    bool strict = proc->proisstrict;
    ReleaseSysCache(tup);
    char *signature = format_procedure(fn);
    if (!ok)
        ereport(ERROR, (errcode(CHRONICLE_INVALID_REDUCER),
                        errmsg("reducer \"%s\": %s is not a reducer function", name, signature),
                        errdetail("A reducer function is fn(state jsonb, event chronicle.events) RETURNS jsonb.")));
    if (strict)
        ereport(ERROR, (errcode(CHRONICLE_INVALID_REDUCER),
                        errmsg("reducer \"%s\": %s must not be STRICT", name, signature),
                        errdetail("It receives a NULL state for the first event of a stream.")));
    AclResult acl = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
    if (acl != ACLCHECK_OK)
        aclcheck_error(acl, OBJECT_FUNCTION, signature);
    /*
     * Automatic replays run the function as its owner (replay.h,
     * REDUCER_AS_FUNCTION_OWNER): naming someone else's function would
     * run it with that owner's rights on the namer's events, which its
     * owner never agreed to.  So only its owner (or a member) names it; to
     * use another role's function, wrap it in a function of one's own.
     */
    if (!pg_proc_ownercheck(fn, GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FUNCTION, signature);
}

/*
 * Insert or update the row as the owner of chronicle.reducers: writers may
 * define reducers but have no privilege on the table itself.  Identical
 * rules and function keep the revision; anything else raises it.
 */
static int32 store(FunctionCallInfo fcinfo, Datum rules, bool rules_null, Datum fn, bool fn_null)
{
    static SPIPlanPtr upsert = nullptr;
    SPI_connect();
    if (!upsert)
    {
        Oid types[5] = {TEXTOID, JSONBOID, REGPROCEDUREOID, TEXTOID, INT4OID};
        upsert = keep(
            "INSERT INTO chronicle.reducers AS r (name, revision, rules, fn, category, snapshot_every, defined_at) "
            "VALUES ($1, 1, $2, $3, $4, $5, pg_catalog.now()) "
            "ON CONFLICT (name) DO UPDATE SET "
            "  revision = r.revision OPERATOR(pg_catalog.+) CASE WHEN"
            "    COALESCE(r.rules OPERATOR(pg_catalog.=) excluded.rules, r.rules IS NULL AND excluded.rules IS NULL)"
            "    AND COALESCE(r.fn::pg_catalog.oid OPERATOR(pg_catalog.=) excluded.fn::pg_catalog.oid,"
            "                            r.fn IS NULL AND excluded.fn IS NULL)"
            "    THEN 0 ELSE 1 END,"
            "  rules = excluded.rules, fn = excluded.fn, category = excluded.category,"
            "  snapshot_every = excluded.snapshot_every, defined_at = excluded.defined_at "
            "RETURNING r.revision",
            5, types);
    }
    Datum args[5] = {PG_GETARG_DATUM(0), rules, fn, PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
                     PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3)};
    char nulls[5] = {' ', rules_null ? 'n' : ' ', fn_null ? 'n' : ' ', PG_ARGISNULL(2) ? 'n' : ' ',
                     PG_ARGISNULL(3) ? 'n' : ' '};

    Oid rel = get_relname_relid("reducers", get_namespace_oid("chronicle", false));
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "chronicle: chronicle.reducers is missing");
    Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);

    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    int rc = pg::spi::execute_plan(upsert, args, nulls, false, 1);
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
        elog(ERROR, "chronicle: storing the reducer failed: %s", SPI_result_code_string(rc));
    bool isnull;
    int32 revision = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    return revision;
}

/* define_reducer(name text, rules jsonb, category text, snapshot_every int) */
Datum chronicle_define_reducer_rules(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        check_common_args(fcinfo);
        char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
        Jsonb *rules = PG_GETARG_JSONB_P(1);
        /* Malformed rules are rejected here, not at the first replay. */
        MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "chronicle rules check",
                                                      ALLOCSET_SMALL_SIZES);
        rules_compile(name, rules, scratch);
        MemoryContextDelete(scratch);
        PG_RETURN_INT32(store(fcinfo, PointerGetDatum(rules), false, (Datum) 0, true));
    });
}

/* define_reducer(name text, fn regprocedure, category text, snapshot_every int) */
Datum chronicle_define_reducer_fn(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        check_common_args(fcinfo);
        char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
        Oid fn = PG_GETARG_OID(1);
        check_function(name, fn);
        PG_RETURN_INT32(store(fcinfo, (Datum) 0, true, ObjectIdGetDatum(fn), false));
    });
}
