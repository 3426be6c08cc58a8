/*
 * store.h: computing a snapshot and writing it to chronicle.snapshots.
 */
#pragma once

#include "replay/replay.h"

extern "C" {
#include "postgres.h"
}

/*
 * Replay stream_id with reducer up to version `upto` (0: every visible
 * event) and store the state as the owner of chronicle.snapshots.  Returns
 * the version snapshotted, 0 when the stream has no events (nothing is
 * written).  May ereport or throw pg::Error: call it inside pg::entry().
 *
 * rights: whose rights a function reducer's function runs with (replay.h):
 * the caller's, or, for automatic snapshots, its owner's (observer.cpp).
 */
int64 snapshot_store(text *stream_id, const char *reducer, int64 upto,
                     ReducerRights rights = REDUCER_AS_CALLER);
