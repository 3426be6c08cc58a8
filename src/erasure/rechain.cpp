/*
 * rechain.cpp: the 0.1.0 -> 0.2.0 upgrade's move to hash chain v2
 * (src/upgrade/0.1.0--0.2.0/after/rechain.sql creates, calls and drops
 * chronicle._rechain_v2()).
 *
 * First verify() under 0.1.0's rules (chain v1); any problem stops the
 * upgrade with every problem listed (up to 100 in the message), so that a
 * tampered log is never blessed with fresh hashes.  Then each stream's chain
 * is recomputed under v2 in version order and every row's hash replaced
 * under a one-row permit (events_permit_set), the only update the
 * immutability trigger lets through.
 */
#include "events/events.h"
#include "pg/boundary.h"
#include "pg/spi.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
}

namespace {

SPIPlanPtr scan_plan;
SPIPlanPtr update_plan;

/* Verify scan rows (events.h); no redaction exists during the upgrade. */
const char *const SCAN_SQL = EVENTS_SCAN_SELECT("NULL::pg_catalog.bytea") "ORDER BY e.stream_id, e.version";
const char *const UPDATE_SQL =
    "UPDATE chronicle.events e SET hash = $3 "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.=) $2";

} // namespace

SQL_FUNCTION(chronicle_rechain_v2)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");

    TupleDesc desc = CreateTemplateTupleDesc(3);
    TupleDescInitEntry(desc, 1, "stream_id", TEXTOID, -1, 0);
    TupleDescInitEntry(desc, 2, "version", INT8OID, -1, 0);
    TupleDescInitEntry(desc, 3, "problem", TEXTOID, -1, 0);
    desc = BlessTupleDesc(desc);
    Tuplestorestate *problems = tuplestore_begin_heap(false, false, work_mem);
    EventsReport out = {problems, desc, 0};
    events_verify_into(&out, NULL, true);
    if (out.count > 0)
    {
        StringInfoData list;
        initStringInfo(&list);
        TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
        int shown = 0;
        while (shown < 100 && tuplestore_gettupleslot(problems, true, false, slot))
        {
            bool isnull;
            char *stream = TextDatumGetCString(slot_getattr(slot, 1, &isnull));
            int64 version = DatumGetInt64(slot_getattr(slot, 2, &isnull));
            char *problem = TextDatumGetCString(slot_getattr(slot, 3, &isnull));
            appendStringInfo(&list, "%sstream \"%s\" version %lld: %s", shown ? "\n" : "", stream,
                             (long long)version, problem);
            shown++;
        }
        if (out.count > shown)
            appendStringInfo(&list, "\n(and %lld more)", (long long)(out.count - shown));
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("chronicle cannot re-chain the event log to hash chain v2: verify() under 0.1.0's "
                               "rules finds %lld problem(s)",
                               (long long)out.count),
                        errdetail("%s", list.data),
                        errhint("The upgrade changed nothing. Restore the listed events from a backup (or "
                                "investigate them), then run ALTER EXTENSION chronicle UPDATE again.")));
    }
    tuplestore_end(problems);

    static const Oid types[3] = {TEXTOID, INT8OID, BYTEAOID};
    SPIPlanPtr update = pg::spi::kept_plan(&update_plan, UPDATE_SQL, 3, types);
    Portal cursor = pg::spi::cursor_open(NULL, pg::spi::kept_plan(&scan_plan, SCAN_SQL, 0, NULL), NULL, NULL, false);
    MemoryContext rows = AllocSetContextCreate(CurrentMemoryContext, "chronicle rechain rows", ALLOCSET_DEFAULT_SIZES);
    char *stream = NULL;
    int stream_len = 0;
    uint8 prev[EVENTS_HASH_LEN];
    size_t prev_len = 0;
    int64 rechained = 0;
    while (pg::spi::fetch_batch(cursor, 1000))
    {
        SPITupleTable *table = SPI_tuptable;
        uint64 n = SPI_processed;
        for (uint64 i = 0; i < n; i++)
        {
            HeapTuple row = table->vals[i];
            bool isnull;
            text *sid = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 1, &isnull));
            int slen = VARSIZE_ANY_EXHDR(sid);
            if (stream == NULL || slen != stream_len || memcmp(VARDATA_ANY(sid), stream, slen) != 0)
            {
                stream = pnstrdup(VARDATA_ANY(sid), slen);
                stream_len = slen;
                prev_len = 0;
            }
            int64 version = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 2, &isnull));
            MemoryContext old = MemoryContextSwitchTo(rows);
            uint8 link[EVENTS_HASH_LEN];
            events_scan_hash(prev, prev_len, row, table->tupdesc, link);
            bytea *h = (bytea *)palloc(VARHDRSZ + EVENTS_HASH_LEN);
            SET_VARSIZE(h, VARHDRSZ + EVENTS_HASH_LEN);
            memcpy(VARDATA(h), link, EVENTS_HASH_LEN);
            events_permit_set(EVENTS_PERMIT_REHASH, stream, stream_len, version, NULL, NULL, link);
            Datum args[3] = {PointerGetDatum(sid), Int64GetDatum(version), PointerGetDatum(h)};
            int rc = pg::spi::execute_plan(update, args, NULL, false, 0);
            events_permit_clear();
            if (rc != SPI_OK_UPDATE || SPI_processed != 1)
                elog(ERROR, "chronicle: re-chaining event %lld of stream \"%s\" failed", (long long)version, stream);
            MemoryContextSwitchTo(old);
            MemoryContextReset(rows);
            memcpy(prev, link, EVENTS_HASH_LEN);
            prev_len = EVENTS_HASH_LEN;
            rechained++;
        }
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);
    SPI_finish();
    PG_RETURN_INT64(rechained);
}
