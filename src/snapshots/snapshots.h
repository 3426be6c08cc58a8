/*
 * snapshots.h: the snapshots module (docs/reference/snapshots.md) as the rest of chronicle
 * sees it: its load-time setup, which hooks it into replay (a replay starts
 * from the latest usable snapshot) and into append (automatic snapshots by
 * policy).  catalog.h, store.h and stale.h are what its files share.
 *
 * src/snapshots is C-style (pg/boundary.h).
 */
#pragma once

#include "events/observers.h"
#include "replay/replay.h"

/* From _PG_init, after any other replay_start_hook is installed. */
void snapshots_init(void);

/* start.cpp: the replay_start_hook (replay.h). */
bool snapshot_start(text *stream_id, const char *reducer, int32 revision, const ReplayBounds *bounds,
                    Jsonb **state, int64 *version);

/* observer.cpp: the append observer (observers.h). */
void snapshot_observe(const AppendedEvents *appended);
