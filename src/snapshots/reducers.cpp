/*
 * reducers.cpp: the trigger on chronicle.reducers that deletes the
 * snapshots a change of a reducer's row makes wrong.
 *
 * A snapshot is used when its revision equals the reducer's current one, so
 * (name, revision) must always mean one definition.  define_reducer keeps
 * that (it raises the revision whenever the rules or the function change),
 * but the owner's direct writes need not: a row deleted and defined again
 * starts over at revision 1, and an UPDATE of `rules` or `fn` may keep the
 * revision.  The snapshots of the old definition would then be taken for the
 * new one's.  This trigger deletes them (the WHEN clauses in snapshots.sql
 * leave define_reducer's own upserts alone), with the locking of stale.h.
 */
#include "pg/boundary.h"
#include "pg/spi.h"
#include "snapshots/stale.h"

extern "C" {
#include "catalog/pg_type.h"
}

/* Delete every snapshot of the reducer named in `row` (a renamed row: both names). */
static void delete_of(HeapTuple row, TupleDesc desc)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[1] = {TEXTOID};
    pg::spi::kept_plan(&plan, "DELETE FROM chronicle.snapshots s WHERE s.reducer OPERATOR(pg_catalog.=) $1", 1, types);
    bool isnull;
    Datum args[1] = {SPI_getbinval(row, desc, SPI_fnumber(desc, "name"), &isnull)};
    if (!isnull)
        stale_run_latest(plan, args, SPI_OK_DELETE);
}

SQL_FUNCTION(chronicle_snapshots_reducer_changed)
{
    pg::guard([&] { stale_trigger(fcinfo, "chronicle._snapshots_reducer_changed()", nullptr, delete_of); });
    return PointerGetDatum(nullptr);
}
