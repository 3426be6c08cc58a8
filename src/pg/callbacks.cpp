/*
 * callbacks.cpp: one PostgreSQL callback per table, fanned out (callbacks.h).
 */
#include "pg/callbacks.h"

extern "C" {
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
