/*
 * reducer.h: reducers as stored in chronicle.reducers, looked up by name and
 * compiled once per revision into a per-backend cache.
 */
#pragma once

#include "replay/rules.h"

extern "C" {
#include "fmgr.h"
}

struct Reducer
{
    char *name;
    int32 revision;
    Oid fn;                  /* InvalidOid for a rules reducer */
    Jsonb *rules;            /* as stored, to notice a redefinition */
    CompiledRules *compiled; /* rules reducers */
    FmgrInfo flinfo;         /* function reducers, cached for the backend */
    MemoryContext cxt;       /* holds everything above */
    int pins;                /* callers using it right now */
    bool retired;            /* replaced; freed when the last pin goes */
    Reducer *next;
};

/*
 * The current revision of reducer `name`, compiled.  SPI must be connected.
 * Raises SE004 for an unknown reducer.  The entry stays valid while pinned.
 */
Reducer *reducer_get(const char *name);

/* Keep r valid until `owner` is reset or deleted. */
void reducer_pin(Reducer *r, MemoryContext owner);

/*
 * Before a function reducer runs: the function must still exist and the
 * role it will run as (the current user, unless replay.h's
 * REDUCER_AS_FUNCTION_OWNER) must be allowed to execute it: it runs with
 * the caller's rights, never the extension owner's.
 */
void reducer_check_function(const Reducer *r, Oid runs_as);

/* chronicle.events' row type. */
Oid events_rowtype(void);
