/*
 * catalog.h: what the snapshots module keeps per backend: where
 * chronicle.snapshots is and who owns it, and the automatic-snapshot
 * policies (reducers with a category and snapshot_every).
 *
 * Both are read once and kept until a relcache invalidation of
 * chronicle.reducers or chronicle.snapshots: a trigger on chronicle.reducers
 * sends one whenever a definition changes (snapshots.sql), so an append that
 * concerns no policy costs a look at backend memory only.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

struct SnapshotsCatalog
{
    Oid snapshots; /* chronicle.snapshots */
    Oid owner;     /* its owner: every write to it runs with these rights */
};

struct SnapshotPolicy
{
    char *reducer;
    char *category;
    int32 every;
};

/* chronicle.snapshots and its owner (catalog lookups only when stale). */
const SnapshotsCatalog *snapshots_catalog(void);

/*
 * The policies, read again when stale (through an SPI connection of its
 * own); *n is set to their number.  The array stays valid until the next
 * call: copy what you need before running anything that may append.
 */
const SnapshotPolicy *snapshots_policies(int *n);

/* From _PG_init: the relcache callback that marks both stale. */
void snapshots_catalog_init(void);
