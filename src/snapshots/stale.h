/*
 * stale.h: what the triggers on chronicle.reducers and chronicle.upcasters
 * share (reducers.cpp, upcasters.cpp): deleting the snapshots a change of
 * theirs makes wrong.
 *
 * The locking is the same for both.  Snapshot writers hold ROW EXCLUSIVE
 * on chronicle.snapshots from before their replay reads reducers, upcasters
 * and events; a trigger takes SHARE ROW EXCLUSIVE first (it conflicts with
 * ROW EXCLUSIVE), so a snapshot computed from the old definitions has
 * committed by the time the DELETE runs, and one not yet started waits for
 * this transaction and then sees the new ones.  Not SHARE: SHARE does not
 * conflict with itself, so two triggers both held it and then each waited
 * for the other to take the DELETE's ROW EXCLUSIVE (40P01, issue 17);
 * SHARE ROW EXCLUSIVE conflicts with itself, so they take turns
 * (docs/design/locking.md, test/isolation/specs/locks_define_upcaster.spec).  The
 * DELETE reads with the latest snapshot, taken after that lock: in
 * REPEATABLE READ the transaction's own snapshot would miss a snapshot row
 * committed while it waited.  It runs as the owner of chronicle.snapshots,
 * restricted: nobody else writes that table.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
}

/* Execute plan with the latest snapshot; anything but `expected` is an error. */
void stale_run_latest(SPIPlanPtr plan, Datum *args, int expected);

/*
 * The body of such a trigger (fcinfo: the trigger call of function `name`):
 * the lock, SPI and the owner's rights, then every snapshot deleted for a
 * TRUNCATE, or per_row() called for the row deleted, inserted or updated
 * (for an UPDATE the old row and the new) when worth() says a row can
 * matter (worth may be NULL: always).
 */
void stale_trigger(FunctionCallInfo fcinfo, const char *name, bool (*worth)(void),
                   void (*per_row)(HeapTuple row, TupleDesc desc));
