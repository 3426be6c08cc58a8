/*
 * owner.cpp: the owner of a subscription, and who is asking.
 *
 * Every function that uses or changes a subscription is allowed only to a
 * member of the role that owns it (chronicle.subscriptions.owner) or a
 * superuser, else 42501 (docs/design/security.md, "Subscriptions are owned").
 *
 * The functions that write (subscribe, ack, park, replay_parked, unsubscribe,
 * _subscription_resize, alter_subscription_owner) write as the extension's
 * owner, who owns the tables; a SECURITY DEFINER function cannot tell who
 * called it.  So each of them is this gate, a C function that runs as its
 * caller: it calls its PL/pgSQL body, chronicle._<name>_as(caller oid, <the
 * same arguments>) (SECURITY DEFINER, granted to nobody), directly through
 * fmgr, with current_user as the caller.  The body checks the owner on the
 * row it locked, before it writes.  A set-returning body (replay_parked)
 * fills the gate's own ReturnSetInfo.  Calling through fmgr, not through SQL,
 * skips the EXECUTE check on the body, which is the point: nobody can call a
 * body with a caller of their choosing.
 *
 * poll reads as its caller and checks at its start (subscription_check_owner).
 *
 * C-style (pg/boundary.h).
 */
#include "pg/boundary.h"
#include "pg/spi.h"
#include "subscriptions/owner.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
}

namespace {

SPIPlanPtr owner_plan = nullptr;

/*
 * The body of the gate fcinfo calls: chronicle._<name>_as, or
 * chronicle.<name>_as for a name that starts with '_', taking an oid and then
 * the gate's own argument types.  Looked up once per call site (fn_extra).
 */
FmgrInfo *gate_body(FunctionCallInfo fcinfo)
{
    if (fcinfo->flinfo->fn_extra != NULL)
        return static_cast<FmgrInfo *>(fcinfo->flinfo->fn_extra);
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    Form_pg_proc proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    int nargs = proc->pronargs;
    if (nargs + 1 > FUNC_MAX_ARGS)
        elog(ERROR, "chronicle: too many arguments for a subscription gate");
    Oid argtypes[FUNC_MAX_ARGS];
    argtypes[0] = OIDOID;
    for (int i = 0; i < nargs; i++)
        argtypes[i + 1] = proc->proargtypes.values[i];
    const char *name = NameStr(proc->proname);
    char *body_name = psprintf("%s%s_as", name[0] == '_' ? "" : "_", name);
    ReleaseSysCache(tuple);
    Oid body_oid = LookupFuncName(list_make2(makeString(pstrdup("chronicle")), makeString(body_name)), nargs + 1,
                                  argtypes, false);
    FmgrInfo *body = static_cast<FmgrInfo *>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo)));
    fmgr_info_cxt(body_oid, body, fcinfo->flinfo->fn_mcxt);
    fcinfo->flinfo->fn_extra = body;
    return body;
}

} // namespace

/*
 * The gate: the body with the caller (GetUserId(): the role in effect, as
 * current_user, also inside another role's SECURITY DEFINER function or
 * a reducer run as its owner) before the caller's arguments, NULLs kept.
 */
SQL_FUNCTION(chronicle_subscription_gate)
{
    FmgrInfo *body = gate_body(fcinfo);
    int nargs = fcinfo->nargs;
    LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
    InitFunctionCallInfoData(*inner, body, nargs + 1, fcinfo->fncollation, fcinfo->context, fcinfo->resultinfo);
    inner->args[0].value = ObjectIdGetDatum(GetUserId());
    inner->args[0].isnull = false;
    for (int i = 0; i < nargs; i++)
        inner->args[i + 1] = fcinfo->args[i];
    Datum result = FunctionCallInvoke(inner);
    fcinfo->isnull = inner->isnull;
    return result;
}

void subscription_check_owner(text *name, const char *action)
{
    static const Oid argtypes[1] = {TEXTOID};
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = pg::spi::kept_plan(&owner_plan,
                                         "SELECT s.owner::pg_catalog.oid FROM chronicle.subscriptions s "
                                         "WHERE s.name OPERATOR(pg_catalog.=) $1",
                                         1, argtypes, 0);
    Datum args[1] = {PointerGetDatum(name)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the subscription's owner failed");
    Oid owner = InvalidOid;
    if (SPI_processed == 1)
    {
        bool isnull;
        owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_finish();
    if (OidIsValid(owner) && !has_privs_of_role(GetUserId(), owner))
    {
        char *who = GetUserNameFromId(owner, true);
        ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                        errmsg("subscription \"%s\" is owned by role %s", text_to_cstring(name),
                               who ? quote_identifier(who) : psprintf("with OID %u", owner)),
                        errdetail("Only the subscription's owner or a member of the owning role may %s.",
                                  action)));
    }
}
