/*
 * store.h: computing a snapshot and writing it to chronicle.snapshots.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

/*
 * Replay stream_id with reducer up to version `upto` (0: every visible
 * event) and store the state as the owner of chronicle.snapshots.  Returns
 * the version snapshotted, 0 when the stream has no events (nothing is
 * written).  May ereport or throw pg::Error: call it inside pg::entry().
 *
 * replay_as: InvalidOid to replay with the current user's rights; a role to
 * replay as that role instead, under SECURITY_RESTRICTED_OPERATION and with
 * search_path = pg_catalog, pg_temp (automatic snapshots of a function
 * reducer run its function as the function's owner, observer.cpp).
 */
int64 snapshot_store(text *stream_id, const char *reducer, int64 upto, Oid replay_as = InvalidOid);
