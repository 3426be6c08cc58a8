/*
 * replay.h: rebuilding a stream's state with a reducer, for chronicle.replay
 * and for the modules above replay (snapshots, projections).
 *
 * src/replay is C-style (pg/boundary.h).  Where the executor calls back into
 * it (replay.cpp's DestReceiver), the C++ exceptions of its code are caught
 * there and raised as ereport once the callback is left.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
}

struct ReplayBounds
{
    bool has_version;
    int64 as_of_version; /* apply events with version <= this */
    bool has_time;
    TimestampTz as_of_time; /* stop at the first event recorded after this */
};

struct ReplayResult
{
    Jsonb *state;    /* NULL when no event (and no snapshot) was found */
    int64 version;   /* the last version applied, 0 if none */
    int32 revision;  /* the reducer revision used */
};

/*
 * Where a replay may start instead of version 1: set by the snapshots
 * module.  Called with SPI connected; returns true and fills *state (in
 * CurrentMemoryContext) and *version when a usable snapshot of this reducer
 * revision exists within the bounds.
 */
typedef bool (*replay_start_hook_type)(text *stream_id, const char *reducer, int32 revision,
                                       const ReplayBounds *bounds, Jsonb **state, int64 *version);
extern replay_start_hook_type replay_start_hook;

/*
 * Whose rights a function reducer's function runs with (docs/design/security.md):
 * the caller's, when someone calls replay (or take_snapshot...).  A replay
 * nobody asked for, run by an append observer for a snapshot or a
 * projection, has no caller who chose the reducer: the appender did not,
 * and running the function as the appender would let whoever defined (or
 * redefined) the reducer run code as anyone who appends next, a superuser
 * say, as a trigger would.  Such replays run the function as its owner,
 * restricted (SECURITY_RESTRICTED_OPERATION, as VACUUM runs a table's index
 * functions), with search_path = pg_catalog, pg_temp and an FmgrInfo of
 * their own (nothing of the session's path or of an earlier call's parse
 * reaches it): its author's rights, never more.  The events are read with
 * the current user's rights either way.
 */
enum ReducerRights
{
    REDUCER_AS_CALLER,
    REDUCER_AS_FUNCTION_OWNER
};

/*
 * Replay stream_id with reducer within bounds; the result is allocated in
 * the caller's memory context.  Plain C frames: may ereport or throw
 * pg::Error (SE004) — call it from inside pg::entry().
 */
void replay_stream(text *stream_id, const char *reducer, const ReplayBounds *bounds,
                   ReplayResult *result, ReducerRights rights = REDUCER_AS_CALLER);
