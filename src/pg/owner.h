/*
 * owner.h: the owner of the SQL function being called.  chronicle's
 * functions belong to the extension's owner, who owns its tables: what a
 * caller may not write itself runs as that role (SetUserIdAndSecContext with
 * SECURITY_LOCAL_USERID_CHANGE), like SECURITY DEFINER without its per-call
 * GUC work.  C-style: may ereport.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "utils/syscache.h"
}

namespace pg {

/* pg_proc.proowner of the function fcinfo calls (a syscache look-up). */
inline Oid function_owner(FunctionCallInfo fcinfo)
{
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
    Oid owner = ((Form_pg_proc)GETSTRUCT(tuple))->proowner;
    ReleaseSysCache(tuple);
    return owner;
}

} // namespace pg
