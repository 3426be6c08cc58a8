/*
 * upcasters.cpp: the trigger on chronicle.upcasters that deletes the
 * snapshots an upcaster change makes stale.
 *
 * An upcaster changes what a replay reads from stored events, so a snapshot
 * that includes an event it applies to no longer equals a full replay.
 * This trigger deletes those, with the locking of stale.h.
 */
#include "pg/boundary.h"
#include "pg/spi.h"
#include "snapshots/stale.h"

extern "C" {
#include "catalog/pg_type.h"
}

/* Delete the snapshots that include an event of `type` at or below `from_version`. */
static void delete_for(HeapTuple row, TupleDesc desc)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[2] = {TEXTOID, INT4OID};
    pg::spi::kept_plan(&plan,
                  "DELETE FROM chronicle.snapshots s"
                  " USING (SELECT e.stream_id, pg_catalog.min(e.version) AS first_version"
                  "        FROM chronicle.events e"
                  "        WHERE e.type OPERATOR(pg_catalog.=) $1"
                  "          AND e.type_version OPERATOR(pg_catalog.<=) $2"
                  "        GROUP BY e.stream_id) f"
                  " WHERE s.stream_id OPERATOR(pg_catalog.=) f.stream_id"
                  "   AND s.version OPERATOR(pg_catalog.>=) f.first_version",
                  2, types);
    bool type_null, version_null;
    Datum args[2] = {SPI_getbinval(row, desc, SPI_fnumber(desc, "type"), &type_null),
                     SPI_getbinval(row, desc, SPI_fnumber(desc, "from_version"), &version_null)};
    if (type_null || version_null)
        return;
    stale_run_latest(plan, args, SPI_OK_DELETE);
}

static bool any_snapshot(void)
{
    static SPIPlanPtr plan = nullptr;
    stale_run_latest(pg::spi::kept_plan(&plan, "SELECT FROM chronicle.snapshots LIMIT 1", 0, nullptr), nullptr,
                     SPI_OK_SELECT);
    return SPI_processed > 0;
}

SQL_FUNCTION(chronicle_snapshots_upcaster_changed)
{
    pg::guard([&] {
        stale_trigger(fcinfo, "chronicle._snapshots_upcaster_changed()", any_snapshot, delete_for);
    });
    return PointerGetDatum(nullptr);
}
