/*
 * callbacks.h: chronicle's invalidation callbacks, registered with PostgreSQL
 * once per callback table and fanned out here.
 *
 * PostgreSQL's callback tables are small and shared with every loaded
 * extension (PostgreSQL 15: 10 relcache callbacks, 64 syscache callbacks per
 * backend; Citus alone takes 5 relcache slots).  chronicle takes one relcache
 * slot and one syscache slot per cache it watches, whatever the number of
 * modules that listen: modules register here, from _PG_init, never with
 * CacheRegister*Callback directly.  Registration ereports when the fixed
 * table of listeners is full (a bug).
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "fmgr.h"
#include "utils/inval.h"
}

namespace pg::callbacks {

/* fn(arg, relid) on every relcache invalidation (relid InvalidOid: all). */
void on_relcache(RelcacheCallbackFunction fn, Datum arg);

/* fn(arg, cacheid, hashvalue) on every invalidation of syscache cacheid. */
void on_syscache(int cacheid, SyscacheCallbackFunction fn, Datum arg);

/*
 * fn(event, arg) at every transaction event, fn(event, mySubid, parentSubid,
 * arg) at every subtransaction event.  Listeners are called in the reverse
 * order of registration, as PostgreSQL calls its own list.
 */
void on_xact(XactCallback fn, void *arg);
void on_subxact(SubXactCallback fn, void *arg);

/*
 * The body of a trigger that tells every backend "this table changed": a
 * relcache invalidation of the trigger's table, which the on_relcache
 * listeners of this backend receive at its next command and those of the
 * others at commit.  On a Citus node the trigger fires on a shard of the
 * table (a reference table's placement, chronicle.event_types_102040), whose
 * OID no listener knows: the table it is a shard of (the same name without
 * "_<shard id>", in the same schema) is invalidated too.  name (as
 * "chronicle._types_changed()") is for the 39P01 raised when fcinfo is not
 * a trigger call.  C++-style: throws pg::Error.  Hidden: not in
 * chronicle.so's dynamic symbols.
 */
__attribute__((visibility("hidden"))) void invalidate_trigger_table(FunctionCallInfo fcinfo, const char *name);

} // namespace pg::callbacks
