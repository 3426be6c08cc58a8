/*
 * callbacks.cpp: one PostgreSQL callback per table, fanned out (callbacks.h).
 */
#include "pg/callbacks.h"
#include "pg/boundary.h"

extern "C" {
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace pg::callbacks {

namespace {

constexpr int MAX_LISTENERS = 16;

struct RelListener
{
    RelcacheCallbackFunction fn;
    Datum arg;
};

struct SysListener
{
    int cacheid;
    SyscacheCallbackFunction fn;
    Datum arg;
};

RelListener rel_listeners[MAX_LISTENERS];
int n_rel = 0;
bool rel_registered = false;

SysListener sys_listeners[MAX_LISTENERS];
int n_sys = 0;
bool sys_registered[SysCacheSize];

void relcache_fanout(Datum, Oid relid)
{
    for (int i = 0; i < n_rel; i++)
        rel_listeners[i].fn(rel_listeners[i].arg, relid);
}

void syscache_fanout(Datum, int cacheid, uint32 hashvalue)
{
    for (int i = 0; i < n_sys; i++)
        if (sys_listeners[i].cacheid == cacheid)
            sys_listeners[i].fn(sys_listeners[i].arg, cacheid, hashvalue);
}

struct XactListener
{
    XactCallback fn;
    void *arg;
};

struct SubXactListener
{
    SubXactCallback fn;
    void *arg;
};

XactListener xact_listeners[MAX_LISTENERS];
int n_xact = 0;

SubXactListener subxact_listeners[MAX_LISTENERS];
int n_subxact = 0;

void xact_fanout(XactEvent event, void *)
{
    for (int i = n_xact - 1; i >= 0; i--)
        xact_listeners[i].fn(event, xact_listeners[i].arg);
}

void subxact_fanout(SubXactEvent event, SubTransactionId my_subid, SubTransactionId parent_subid, void *)
{
    for (int i = n_subxact - 1; i >= 0; i--)
        subxact_listeners[i].fn(event, my_subid, parent_subid, subxact_listeners[i].arg);
}

} // namespace

void on_relcache(RelcacheCallbackFunction fn, Datum arg)
{
    if (n_rel >= MAX_LISTENERS)
        elog(ERROR, "chronicle: too many relcache listeners");
    rel_listeners[n_rel++] = {fn, arg};
    if (!rel_registered)
    {
        CacheRegisterRelcacheCallback(relcache_fanout, (Datum) 0);
        rel_registered = true;
    }
}

void on_syscache(int cacheid, SyscacheCallbackFunction fn, Datum arg)
{
    if (n_sys >= MAX_LISTENERS || cacheid < 0 || cacheid >= SysCacheSize)
        elog(ERROR, "chronicle: too many syscache listeners");
    sys_listeners[n_sys++] = {cacheid, fn, arg};
    if (!sys_registered[cacheid])
    {
        CacheRegisterSyscacheCallback(cacheid, syscache_fanout, (Datum) 0);
        sys_registered[cacheid] = true;
    }
}

} // namespace pg::callbacks

namespace pg::callbacks {

void on_xact(XactCallback fn, void *arg)
{
    if (n_xact >= MAX_LISTENERS)
        elog(ERROR, "chronicle: too many transaction listeners");
    xact_listeners[n_xact++] = {fn, arg};
    if (n_xact == 1)
        RegisterXactCallback(xact_fanout, NULL);
}

void on_subxact(SubXactCallback fn, void *arg)
{
    if (n_subxact >= MAX_LISTENERS)
        elog(ERROR, "chronicle: too many subtransaction listeners");
    subxact_listeners[n_subxact++] = {fn, arg};
    if (n_subxact == 1)
        RegisterSubXactCallback(subxact_fanout, NULL);
}

void invalidate_trigger_table(FunctionCallInfo fcinfo, const char *name)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, pg::format("%s must be called as a trigger", name));
    TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
    Relation rel = trigger->tg_relation;
    pg::guard([&] {
        CacheInvalidateRelcacheByRelid(RelationGetRelid(rel));
        /* A Citus shard "<table>_<digits>": its table too (the name is all it takes). */
        const char *relname = RelationGetRelationName(rel);
        const char *underscore = strrchr(relname, '_');
        if (underscore == NULL || underscore[1] == '\0' || strspn(underscore + 1, "0123456789") != strlen(underscore + 1))
            return;
        char *table = pnstrdup(relname, underscore - relname);
        Oid shell = get_relname_relid(table, RelationGetNamespace(rel));
        if (OidIsValid(shell))
            CacheInvalidateRelcacheByRelid(shell);
    });
}

} // namespace pg::callbacks
