/*
 * replay.h: rebuilding a stream's state with a reducer, for chronicle.replay
 * and for the modules above replay (snapshots, projections).
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
 * Replay stream_id with reducer within bounds; the result is allocated in
 * the caller's memory context.  Plain C frames: may ereport or throw
 * pg::Error (SE004) — call it from inside pg::entry().
 */
void replay_stream(text *stream_id, const char *reducer, const ReplayBounds *bounds,
                   ReplayResult *result);
