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
    Oid owner;               /* the role that defined it (chronicle.reducers.owner) */
    char *fn_text;           /* function reducers: the qualified signature as stored; NULL for rules */
    Oid fn;                  /* fn_text resolved (InvalidOid: rules, or the function is gone) */
    uint64 fn_generation;    /* pg_proc invalidations seen when fn was resolved */
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
 * Before a function reducer runs: the function must still exist (SE004
 * naming its signature otherwise), be owned by a role whose rights the
 * reducer's owner has (so that no other role chose the code: a function
 * dropped and created again by someone else is refused, 42501), and the
 * role it will run as (the current user, unless replay.h's
 * REDUCER_AS_FUNCTION_OWNER) must be allowed to execute it: it runs with
 * the caller's rights, never the extension owner's.
 */
void reducer_check_function(const Reducer *r, Oid runs_as);

/*
 * Whom a function reducer's function runs as when the current user asks
 * for it (replay, take_snapshot, snapshot_all, fold, a projection's fill):
 * InvalidOid (the current user) when it is the function's owner or a
 * member of it, superuserness not counted; otherwise the function's owner,
 * run restricted in a GUC sandbox.  Code runs with the rights of the role
 * that chose it: a superuser's replay of a writer's reducer must not run the
 * writer's function as superuser, a reader's replay must not lend the
 * reader's rights to the writer's code, and a function another role planted
 * under a dropped one's name for a superuser's reducer (it passes
 * reducer_check_function's owner test, since a superuser has every role's
 * rights) runs as the planter.  InvalidOid too when the function is gone
 * (reducer_check_function then raises SE004).
 */
Oid reducer_runs_as(const Reducer *r);

/* From _PG_init: the pg_proc invalidation that re-resolves function names. */
void reducers_init(void);

/* chronicle.events' row type. */
Oid events_rowtype(void);
