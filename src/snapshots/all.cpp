/*
 * all.cpp: CALL chronicle.snapshot_all(reducer, min_new_events, batch_size).
 *
 * A procedure in C rather than PL/pgSQL: it commits after each batch, and a
 * procedure that commits cannot pin search_path with a SET clause, so it
 * runs kept plans whose every name and operator is qualified instead.
 * Streams are visited in stream_id order from where the last batch ended
 * (keyset pagination), so each batch costs what it snapshots, not what came
 * before it.
 */
#include "errors.h"
#include "pg/boundary.h"
#include "pg/spi.h"
#include "snapshots/store.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
}

struct Policy
{
    bool has_category;
    Datum category; /* text, in the batch context */
    int32 revision;
};

/* The reducer's category and current revision, read again for every batch. */
static void read_reducer(text *reducer, Policy *policy)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[1] = {TEXTOID};
    pg::spi::kept_plan(&plan,
                  "SELECT r.category, r.revision FROM chronicle.reducers r"
                  " WHERE r.name OPERATOR(pg_catalog.=) $1",
                  1, types);
    Datum args[1] = {PointerGetDatum(reducer)};
    int rc = pg::spi::execute_plan(plan, args, nullptr, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reducer lookup failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        throw pg::Error(CHRONICLE_INVALID_REDUCER,
                        pg::format("reducer \"%s\" does not exist", text_to_cstring(reducer)), "",
                        "Define it with chronicle.define_reducer().");
    bool isnull;
    Datum category = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    policy->has_category = !isnull;
    policy->category = isnull ? (Datum) 0 : PointerGetDatum(DatumGetTextPCopy(category));
    policy->revision = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    /* Freed now: SPI keeps a procedure's result tables across its commits until SPI_finish. */
    SPI_freetuptable(SPI_tuptable);
}

/* The next streams after `after` that need a snapshot; copied into CurrentMemoryContext. */
static int next_batch(text *reducer, const Policy *policy, text *after, int32 min_new, int32 batch_size,
                      text ***ids)
{
    static SPIPlanPtr plan = nullptr;
    static const Oid types[6] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID, INT4OID};
    pg::spi::kept_plan(&plan,
                  "SELECT s.stream_id FROM chronicle.streams s"
                  " WHERE s.stream_id OPERATOR(pg_catalog.>) $4"
                  "   AND ($2::pg_catalog.text IS NULL OR s.category OPERATOR(pg_catalog.=) $2)"
                  "   AND s.version OPERATOR(pg_catalog.-) COALESCE("
                  "         (SELECT pg_catalog.max(p.version) FROM chronicle.snapshots p"
                  "          WHERE p.stream_id OPERATOR(pg_catalog.=) s.stream_id"
                  "            AND p.reducer OPERATOR(pg_catalog.=) $1"
                  "            AND p.revision OPERATOR(pg_catalog.=) $3), 0)"
                  "       OPERATOR(pg_catalog.>=) $5"
                  " ORDER BY s.stream_id LIMIT $6",
                  6, types);
    Datum args[6] = {PointerGetDatum(reducer), policy->category, Int32GetDatum(policy->revision),
                     PointerGetDatum(after), Int32GetDatum(min_new), Int32GetDatum(batch_size)};
    char nulls[6] = {' ', policy->has_category ? ' ' : 'n', ' ', ' ', ' ', ' '};
    int rc = pg::spi::execute_plan(plan, args, nulls, false, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: listing streams failed: %s", SPI_result_code_string(rc));
    int n = static_cast<int>(SPI_processed);
    *ids = static_cast<text **>(palloc(sizeof(text *) * Max(n, 1)));
    for (int i = 0; i < n; i++)
    {
        bool isnull;
        (*ids)[i] = DatumGetTextPCopy(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
    SPI_freetuptable(SPI_tuptable);
    return n;
}

SQL_FUNCTION(chronicle_snapshot_all)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "reducer must not be NULL");
    if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) < 1)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        PG_ARGISNULL(1) ? std::string("min_new_events must be at least 1, not NULL")
                                        : pg::format("min_new_events must be at least 1, not %d",
                                                     PG_GETARG_INT32(1)));
    if (PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 1)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        PG_ARGISNULL(2) ? std::string("batch_size must be at least 1, not NULL")
                                        : pg::format("batch_size must be at least 1, not %d",
                                                     PG_GETARG_INT32(2)));
    /* Committing needs a CALL of its own, outside any transaction block. */
    bool nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
                     !castNode(CallContext, fcinfo->context)->atomic;
    if (!nonatomic)
        throw pg::Error(ERRCODE_INVALID_TRANSACTION_TERMINATION,
                        "chronicle.snapshot_all() cannot run inside a transaction block",
                        "It commits after each batch.",
                        "CALL it on its own, or use chronicle.take_snapshot() in a transaction.");
    pg::guard([&] { PreventCommandIfReadOnly("chronicle.snapshot_all()"); });

    int32 min_new = PG_GETARG_INT32(1);
    int32 batch_size = PG_GETARG_INT32(2);
    int64 taken = 0;

    if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    /* SPI's procedure memory lives as long as the CALL, across commits. */
    text *reducer = PG_GETARG_TEXT_P_COPY(0);
    char *reducer_name = text_to_cstring(reducer);
    MemoryContext batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "chronicle snapshot_all batch",
                                                    ALLOCSET_DEFAULT_SIZES);
    /* Each stream's replay result, freed once it is stored. */
    MemoryContext stream_cxt = AllocSetContextCreate(CurrentMemoryContext, "chronicle snapshot_all stream",
                                                     ALLOCSET_DEFAULT_SIZES);
    text *after = cstring_to_text("");
    for (;;)
    {
        MemoryContextReset(batch_cxt);
        MemoryContext old = MemoryContextSwitchTo(batch_cxt);
        Policy policy;
        read_reducer(reducer, &policy);
        text **ids;
        int n = next_batch(reducer, &policy, after, min_new, batch_size, &ids);
        MemoryContextSwitchTo(old);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++)
        {
            CHECK_FOR_INTERRUPTS();
            old = MemoryContextSwitchTo(stream_cxt);
            snapshot_store(ids[i], reducer_name, 0);
            MemoryContextSwitchTo(old);
            MemoryContextReset(stream_cxt);
        }
        taken += n;
        pfree(after);
        after = DatumGetTextPCopy(PointerGetDatum(ids[n - 1]));
        SPI_commit();
        ereport(NOTICE, (errmsg("snapshot_all(%s): " INT64_FORMAT " snapshotted so far", reducer_name, taken)));
    }
    SPI_finish();
    ereport(NOTICE, (errmsg("snapshot_all(%s): done, " INT64_FORMAT " snapshotted", reducer_name, taken)));
    PG_RETURN_VOID();
}
