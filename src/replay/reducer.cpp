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
#include "pg/callbacks.h"
#include "pg/spi.h"
#include "pg/citus.h"

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
}

static Reducer *cache_head = nullptr;
/* Bumped by every pg_proc invalidation: resolved function names are re-resolved. */
static uint64 proc_generation = 1;

static void proc_changed(Datum, int, uint32)
{
    proc_generation++;
}

void reducers_init(void)
{
    pg::callbacks::on_syscache(PROCOID, proc_changed, (Datum) 0);
}

/*
 * A stored signature ("schema.name(pg_catalog.jsonb,chronicle.events)",
 * written by format_procedure_qualified) to its function, InvalidOid when
 * there is none: to_regprocedure under the pinned search_path (the text is
 * fully qualified; the pin only keeps the caller's path out of it).
 */
static Oid resolve_function(const char *signature)
{
    LOCAL_FCINFO(fc, 1);
    InitFunctionCallInfoData(*fc, NULL, 1, InvalidOid, NULL, NULL);
    fc->args[0].value = CStringGetTextDatum(signature);
    fc->args[0].isnull = false;
    int level = pg::spi::pin_begin();
    Datum result = to_regprocedure(fc);
    pg::spi::pin_end(level);
    return fc->isnull ? InvalidOid : DatumGetObjectId(result);
}

static void refresh_function(Reducer *r)
{
    if (r->fn_text && r->fn_generation != proc_generation)
    {
        r->fn = resolve_function(r->fn_text);
        r->fn_generation = proc_generation;
    }
}
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
    static const Oid types[1] = {TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&lookup_plan,
                                         "SELECT r.revision, r.rules, r.fn, r.owner::pg_catalog.oid "
                                         "FROM chronicle.reducers r WHERE r.name OPERATOR(pg_catalog.=) $1",
                           1, types);
    Datum args[1] = {CStringGetTextDatum(name)};
    int rc = pg::spi::execute_plan(plan, args, nullptr, true, 1);
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
    char *fn_text = SPI_getvalue(tuple, desc, 3);
    Datum owner_datum = SPI_getbinval(tuple, desc, 4, &isnull);
    Oid owner = isnull ? InvalidOid : DatumGetObjectId(owner_datum);

    for (Reducer *r = cache_head; r; r = r->next)
    {
        if (strcmp(r->name, name) != 0)
            continue;
        bool same_rules = (!r->rules && !rules) ||
                          (r->rules && rules && VARSIZE(r->rules) == VARSIZE(rules) &&
                           memcmp(r->rules, rules, VARSIZE(rules)) == 0);
        bool same_fn = (!r->fn_text && !fn_text) || (r->fn_text && fn_text && strcmp(r->fn_text, fn_text) == 0);
        if (r->revision == revision && same_fn && same_rules && r->owner == owner)
        {
            refresh_function(r);
            return r;
        }
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
    r->owner = owner;
    r->fn_text = fn_text ? MemoryContextStrdup(cxt, fn_text) : nullptr;
    refresh_function(r);
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

Oid reducer_runs_as(const Reducer *r)
{
    HeapTuple proc = OidIsValid(r->fn) ? SearchSysCache1(PROCOID, ObjectIdGetDatum(r->fn)) : nullptr;
    if (!HeapTupleIsValid(proc))
        return InvalidOid;
    Oid proowner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->proowner;
    ReleaseSysCache(proc);
    /* Code runs with the rights of the role that chose it, never more and
     * never another's: a member of the owning role runs it as itself (the
     * same rights), anyone else, superuser or reader, as the owner. */
    if (is_member_of_role_nosuper(GetUserId(), proowner))
        return InvalidOid;
    return proowner;
}

void reducer_check_function(const Reducer *r, Oid runs_as)
{
    HeapTuple proc = OidIsValid(r->fn) ? SearchSysCache1(PROCOID, ObjectIdGetDatum(r->fn)) : nullptr;
    if (!HeapTupleIsValid(proc))
        throw pg::Error(CHRONICLE_INVALID_REDUCER,
                        pg::format("function %s of reducer \"%s\" does not exist", r->fn_text ? r->fn_text : "?",
                                   r->name),
                        "", "Define the reducer again with an existing function.");
    Oid proowner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->proowner;
    ReleaseSysCache(proc);
    /* The code must be the reducer owner's choice: a function of that name
     * created by another role (after a DROP) is not. */
    if (!has_privs_of_role(r->owner, proowner))
    {
        char *owner_name = GetUserNameFromId(r->owner, true);
        char *fn_owner = GetUserNameFromId(proowner, true);
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        pg::format("function %s of reducer \"%s\" is owned by role %s, not by the reducer's owner %s",
                                   r->fn_text, r->name, fn_owner ? fn_owner : "?", owner_name ? owner_name : "?"),
                        "", "The reducer's owner defines it again with a function of its own.");
    }
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
    /* A category is the part of a stream id before its first '-' (as subscribe checks it). */
    if (!PG_ARGISNULL(2) && memchr(VARDATA_ANY(PG_GETARG_TEXT_PP(2)), '-', VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2))))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("reducer \"%s\": category \"%s\" contains '-': a category is the part of a stream id "
                               "before its first '-', so no stream would match",
                               text_to_cstring(name), text_to_cstring(PG_GETARG_TEXT_PP(2)))));
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

/* The upsert of store(), but for its WHERE (the owner check) and RETURNING. */
#define UPSERT_REDUCER_SQL \
    "INSERT INTO chronicle.reducers AS r (name, revision, rules, fn, category, snapshot_every, defined_at, owner) " \
    "VALUES ($1, 1, $2, $3, $4, $5, pg_catalog.now(), $6::pg_catalog.regrole) " \
    "ON CONFLICT (name) DO UPDATE SET " \
    "  revision = r.revision OPERATOR(pg_catalog.+) CASE WHEN" \
    "    COALESCE(r.rules OPERATOR(pg_catalog.=) excluded.rules, r.rules IS NULL AND excluded.rules IS NULL)" \
    "    AND COALESCE(r.fn OPERATOR(pg_catalog.=) excluded.fn, r.fn IS NULL AND excluded.fn IS NULL)" \
    "    THEN 0 ELSE 1 END," \
    "  rules = excluded.rules, fn = excluded.fn, category = excluded.category," \
    "  snapshot_every = excluded.snapshot_every, defined_at = excluded.defined_at "

/*
 * Insert or update the row as the owner of chronicle.reducers: writers may
 * define reducers but have no privilege on the table itself.  Identical
 * rules and function keep the revision; anything else raises it.
 *
 * A new reducer is owned by the calling role (the role in effect when
 * define_reducer was called); an existing one may be redefined only by its
 * owner or a member of the owning role (pg_has_role USAGE, i.e.
 * has_privs_of_role), checked on the row ON CONFLICT locked, so no
 * concurrent definition slips between check and write.  Redefinition keeps
 * the owner.  The function is stored as its qualified signature (text that
 * survives pg_dump and pg_upgrade, unlike regprocedure).
 */
static int32 store(FunctionCallInfo fcinfo, Datum rules, bool rules_null, Datum fn, bool fn_null)
{
    static SPIPlanPtr upsert_plan = nullptr;
    static SPIPlanPtr owner_plan = nullptr;
    static const Oid types[6] = {TEXTOID, JSONBOID, TEXTOID, TEXTOID, INT4OID, OIDOID};
    SPI_connect();
    SPIPlanPtr upsert = pg::spi::kept_plan(
        &upsert_plan,
            UPSERT_REDUCER_SQL "WHERE pg_catalog.pg_has_role($6, r.owner::pg_catalog.oid, 'USAGE') "
            "RETURNING r.revision",
            6, types);
    Datum args[6] = {PG_GETARG_DATUM(0), rules, fn, PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2),
                     PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), ObjectIdGetDatum(GetUserId())};
    char nulls[6] = {' ', rules_null ? 'n' : ' ', fn_null ? 'n' : ' ', PG_ARGISNULL(2) ? 'n' : ' ',
                     PG_ARGISNULL(3) ? 'n' : ' ', ' '};

    Oid rel = get_relname_relid("reducers", get_namespace_oid("chronicle", false));
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "chronicle: chronicle.reducers is missing");
    Oid owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
    ReleaseSysCache(tup);
    /*
     * On a Citus cluster chronicle.reducers is a reference table, and Citus
     * plans no function but an immutable one in ON CONFLICT's WHERE: the
     * owner check runs first, on the row locked FOR UPDATE (a reference
     * table's writes are serialised by Citus across the cluster), and the
     * upsert runs without it (docs/design/citus.md).
     */
    bool on_citus = pg::citus::is_citus_table(rel);
    static SPIPlanPtr upsert_citus = nullptr;
    static SPIPlanPtr lock_plan = nullptr;
    if (on_citus)
    {
        Oid types[6] = {TEXTOID, JSONBOID, TEXTOID, TEXTOID, INT4OID, OIDOID};
        pg::spi::kept_plan(&upsert_citus,
            UPSERT_REDUCER_SQL "RETURNING r.revision",
            6, types);
        Oid lock_types[1] = {TEXTOID};
        pg::spi::kept_plan(&lock_plan, "SELECT r.owner::pg_catalog.oid FROM chronicle.reducers r "
                         "WHERE r.name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
                         1, lock_types);
    }

    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    int rc;
    if (on_citus)
    {
        if (pg::spi::execute_plan(lock_plan, args, nullptr, false, 1) != SPI_OK_SELECT)
            elog(ERROR, "chronicle: locking the reducer's row failed");
        bool isnull = true;
        Oid current = SPI_processed == 1
                          ? DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))
                          : InvalidOid;
        if (OidIsValid(current) && !has_privs_of_role(save_user, current))
        {
            /* Refused below, as the WHERE clause refuses: an upsert that stored nothing. */
            rc = SPI_OK_INSERT_RETURNING;
            SPI_processed = 0;
        }
        else
            rc = pg::spi::execute_plan(upsert_citus, args, nulls, false, 1);
    }
    else
        rc = pg::spi::execute_plan(upsert, args, nulls, false, 1);
    uint64 stored = SPI_processed;
    Oid row_owner = InvalidOid;
    if (rc == SPI_OK_INSERT_RETURNING && stored == 0)
    {
        /* The row exists and the caller may not change it: whose is it? */
        Oid types[1] = {TEXTOID};
        int orc = pg::spi::execute_plan(
            pg::spi::kept_plan(&owner_plan,
                               "SELECT r.owner::pg_catalog.oid FROM chronicle.reducers r WHERE r.name OPERATOR(pg_catalog.=) $1",
                               1, types),
            args, nullptr, false, 1);
        bool isnull = true;
        if (orc == SPI_OK_SELECT && SPI_processed == 1)
            row_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc == SPI_OK_INSERT_RETURNING && stored == 0)
    {
        char *who = OidIsValid(row_owner) ? GetUserNameFromId(row_owner, true) : NULL;
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("reducer \"%s\" is owned by role %s", text_to_cstring(PG_GETARG_TEXT_PP(0)),
                               who ? who : psprintf("with OID %u", row_owner)),
                        errdetail("Only the reducer's owner or a member of the owning role may redefine it.")));
    }
    if (rc != SPI_OK_INSERT_RETURNING || stored != 1)
        elog(ERROR, "chronicle: storing the reducer failed: %s", SPI_result_code_string(rc));
    bool isnull;
    int32 revision = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    return revision;
}

/* define_reducer(name text, rules jsonb, category text, snapshot_every int) */
SQL_FUNCTION(chronicle_define_reducer_rules)
{
    check_common_args(fcinfo);
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    Jsonb *rules = PG_GETARG_JSONB_P(1);
    /* Malformed rules are rejected here, not at the first replay. */
    MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "chronicle rules check",
                                                  ALLOCSET_SMALL_SIZES);
    rules_compile(name, rules, scratch);
    MemoryContextDelete(scratch);
    PG_RETURN_INT32(store(fcinfo, PointerGetDatum(rules), false, (Datum) 0, true));
}

/* define_reducer(name text, fn regprocedure, category text, snapshot_every int) */
SQL_FUNCTION(chronicle_define_reducer_fn)
{
    check_common_args(fcinfo);
    char *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    Oid fn = PG_GETARG_OID(1);
    check_function(name, fn);
    /* Qualified, so that resolving it again never depends on a search_path. */
    char *signature = format_procedure_qualified(fn);
    PG_RETURN_INT32(store(fcinfo, (Datum) 0, true, CStringGetTextDatum(signature), false));
}
