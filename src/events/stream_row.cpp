/*
 * stream_row.cpp: the two look-ups of an append that touch one row each, the
 * stream row's version bump and the previous event's hash, done through the
 * table access method instead of SQL statements.
 *
 * Why: the bump was an UPDATE ... RETURNING statement whose executor start-up,
 * plan-cache check and shut-down cost more than the update itself; measured
 * with callgrind it was 40% of an append.  What the statement did is kept:
 *
 *  - The row is found through the primary key with the snapshot the UPDATE
 *    would have used (GetTransactionSnapshot: a new one per call in READ
 *    COMMITTED, the transaction's in REPEATABLE READ and SERIALIZABLE).
 *  - table_tuple_update waits for a concurrent writer of the row.  If that
 *    writer committed, READ COMMITTED locks the newest version
 *    (table_tuple_lock with TUPLE_LOCK_FLAG_FIND_LAST_VERSION, as the
 *    executor's EvalPlanQual does) and adds to it; the stricter levels raise
 *    40001, as an UPDATE would.  So writers of one stream queue on its row and
 *    each sees the version its predecessor left.
 *  - The new row version is WAL-logged by heap_update, and entered in the
 *    indexes when it is not a HOT update (ExecInsertIndexTuples).
 *
 * What is skipped is the streams_version_grows trigger, which cannot fire on
 * a bump (the version grows, stream_id and category are kept), and the
 * foreign key's PK-side update trigger, which PostgreSQL itself skips when
 * the key is unchanged.  Anything else on chronicle.streams (a trigger, a
 * rule, row-level security, a changed column list) makes the bump decline,
 * and append runs its UPDATE statement instead (append_bump_with_sql, at the
 * end of this file, which also creates a new stream's row).

 */
#include "events/append.h"
#include "pg/spi.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace {

enum StreamsColumn
{
    ST_STREAM_ID = 1,
    ST_CATEGORY,
    ST_VERSION,
    ST_CREATED_AT,
    ST_UPDATED_AT,
    ST_NCOLUMNS = ST_UPDATED_AT
};

const Oid streams_types[ST_NCOLUMNS] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};

/* PK-side foreign-key triggers: on an UPDATE that keeps the key they do nothing. */
bool is_pk_side_update_trigger(Oid fn)
{
    return fn == F_RI_FKEY_NOACTION_UPD || fn == F_RI_FKEY_RESTRICT_UPD || fn == F_RI_FKEY_CASCADE_UPD ||
           fn == F_RI_FKEY_SETNULL_UPD || fn == F_RI_FKEY_SETDEFAULT_UPD;
}

bool bump_possible(const DirectTarget *target, Oid grows_fn)
{
    if (!events_direct_plain(target, streams_types, ST_NCOLUMNS))
        return false;
    const TriggerDesc *triggers = target->rel->trigdesc;
    if (triggers != NULL)
        for (int i = 0; i < triggers->numtriggers; i++)
        {
            const Trigger *t = &triggers->triggers[i];
            if (!TRIGGER_FOR_UPDATE(t->tgtype) || t->tgenabled == TRIGGER_DISABLED)
                continue;
            if (is_pk_side_update_trigger(t->tgfoid))
                continue;
            if (t->tgfoid == grows_fn && TRIGGER_FOR_ROW(t->tgtype) && !TRIGGER_FOR_BEFORE(t->tgtype))
                continue;
            return false;
        }
    return true;
}

/* The visible row of stream_id, through index, into slot; false if none. */
bool find_row(Relation rel, Relation index, Snapshot snapshot, text *stream_id, TupleTableSlot *slot)
{
    ScanKeyData key;
    ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[0],
                           F_TEXTEQ, PointerGetDatum(stream_id));
    IndexScanDesc scan = index_beginscan(rel, index, snapshot, 1, 0);
    index_rescan(scan, &key, 1, NULL, 0);
    bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
    index_endscan(scan);
    return found;
}

/*
 * Does index lead with the table's first columns, of the types the scan keys
 * compare?  The owner may have replaced a primary key; the scan keys built
 * here name attribute numbers and comparison functions, so any other index
 * is left to SQL.
 */
bool index_leads_with(Relation index, int nkeys, const Oid *types)
{
    Form_pg_index ix = index->rd_index;
    if (index->rd_rel->relam != BTREE_AM_OID || ix->indnkeyatts < nkeys)
        return false;
    for (int i = 0; i < nkeys; i++)
        if (ix->indkey.values[i] != i + 1 || index->rd_opcintype[i] != types[i])
            return false;
    return true;
}

const Oid stream_key_types[1] = {TEXTOID};
const Oid event_key_types[2] = {TEXTOID, INT8OID};

const char *const PREV_HASH_SQL = "SELECT e.hash FROM chronicle.events e "
                                  "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 "
                                  "AND e.version OPERATOR(pg_catalog.=) $2";
SPIPlanPtr prev_hash_plan;

/* events_prev_hash through SQL, for an events table whose primary key is not (stream_id, version). */
bool prev_hash_with_sql(text *stream_id, int64 version, bytea **hash)
{
    static const Oid argtypes[2] = {TEXTOID, INT8OID};
    SPIPlanPtr plan = pg::spi::kept_plan(&prev_hash_plan, PREV_HASH_SQL, 2, argtypes);
    Datum args[2] = {PointerGetDatum(stream_id), Int64GetDatum(version)};
    if (pg::spi::execute_plan(plan, args, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the previous hash failed");
    if (SPI_processed == 0)
        return false;
    bool isnull;
    Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    *hash = isnull ? NULL : DatumGetByteaPP(value);
    return true;
}

/* The stream row through SQL (append_bump_with_sql); the _plain ones on a Citus cluster. */
SPIPlanPtr update_plan;
SPIPlanPtr upsert_plan;
SPIPlanPtr update_plain_plan;
SPIPlanPtr upsert_plain_plan;

/*
 * The common case, an existing stream.  A plain UPDATE locks the row as part
 * of the update; ON CONFLICT DO UPDATE would first lock it separately (one
 * more WAL record per append).  $2, the category, is used by UPSERT_SQL only.
 */
const char *const UPDATE_SQL =
    "UPDATE chronicle.streams AS s "
    "SET version = s.version OPERATOR(pg_catalog.+) $3, updated_at = $4 "
    "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
    "RETURNING s.version, (SELECT e.hash FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) s.stream_id "
    "AND e.version OPERATOR(pg_catalog.=) (s.version OPERATOR(pg_catalog.-) $3))";

/* A stream that did not exist a moment ago: create it, or join a concurrent creator. */
const char *const UPSERT_SQL =
    "INSERT INTO chronicle.streams AS s (stream_id, category, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (stream_id) DO UPDATE "
    "SET version = s.version OPERATOR(pg_catalog.+) excluded.version, "
    "updated_at = excluded.updated_at "
    "RETURNING s.version, (SELECT e.hash FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) s.stream_id "
    "AND e.version OPERATOR(pg_catalog.=) (s.version OPERATOR(pg_catalog.-) $3))";

/*
 * Citus plans no subquery in a RETURNING list: on a distributed store the
 * statements return the version only and the previous hash is read apart
 * (events_prev_hash, on the local shard).
 */
const char *const UPDATE_PLAIN_SQL =
    "UPDATE chronicle.streams AS s "
    "SET version = s.version OPERATOR(pg_catalog.+) $3, updated_at = $4 "
    "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
    "RETURNING s.version, NULL::pg_catalog.bytea";
const char *const UPSERT_PLAIN_SQL =
    "INSERT INTO chronicle.streams AS s (stream_id, category, version, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $4) "
    "ON CONFLICT (stream_id) DO UPDATE "
    "SET version = s.version OPERATOR(pg_catalog.+) excluded.version, "
    "updated_at = excluded.updated_at "
    "RETURNING s.version, NULL::pg_catalog.bytea";

} // namespace

int64 events_stream_bump(const EventsCatalog *catalog, text *stream_id, int64 count, TimestampTz now)
{
    /*
     * A new command, as SPI starts one before the UPDATE statement: the row
     * may have been changed earlier in the calling command (an UPDATE of
     * chronicle.streams whose RETURNING list or CTE appends), and only a
     * later command sees that version and may update it.
     */
    CommandCounterIncrement();

    DirectTarget target;
    events_direct_open(&target, catalog->streams, ACL_UPDATE);
    Relation rel = target.rel;
    EState *estate = target.estate;
    ResultRelInfo *rri = target.rri;
    Oid pk = RelationGetPrimaryKeyIndex(rel);
    if (!OidIsValid(pk) || !bump_possible(&target, catalog->version_grows_fn))
    {
        events_direct_close(&target);
        return EVENTS_BUMP_USE_SQL;
    }

    /*
     * What the executor checks before any UPDATE: a table that publishes
     * updates needs a replica identity, else subscribers could not apply them.
     */
    CheckCmdReplicaIdentity(rel, CMD_UPDATE);

    Relation index = index_open(pk, AccessShareLock);
    if (!index_leads_with(index, 1, stream_key_types))
    {
        index_close(index, NoLock);
        events_direct_close(&target);
        return EVENTS_BUMP_USE_SQL;
    }
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    TupleTableSlot *old_slot = table_slot_create(rel, NULL);
    TupleTableSlot *new_slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsVirtual);
    int64 old_version = EVENTS_BUMP_NO_ROW;

    if (find_row(rel, index, snapshot, stream_id, old_slot))
    {
        ItemPointerData tid = old_slot->tts_tid;
        for (;;)
        {
            slot_getallattrs(old_slot);
            ExecClearTuple(new_slot);
            for (int i = 0; i < ST_NCOLUMNS; i++)
            {
                new_slot->tts_values[i] = old_slot->tts_values[i];
                new_slot->tts_isnull[i] = old_slot->tts_isnull[i];
            }
            if (old_slot->tts_isnull[ST_VERSION - 1])
                elog(ERROR, "chronicle: stream row without a version");
            int64 version = DatumGetInt64(old_slot->tts_values[ST_VERSION - 1]);
            new_slot->tts_values[ST_VERSION - 1] = Int64GetDatum(version + count);
            new_slot->tts_values[ST_UPDATED_AT - 1] = TimestampTzGetDatum(now);
            ExecStoreVirtualTuple(new_slot);
            /* The table's CHECK constraints, which an UPDATE statement evaluates too. */
            if (rel->rd_att->constr != NULL)
                ExecConstraints(rri, new_slot, estate);

            TM_FailureData tmfd;
            LockTupleMode lockmode;
            bool update_indexes;
            TM_Result result = table_tuple_update(rel, &tid, new_slot, estate->es_output_cid, snapshot,
                                                  InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
            if (result == TM_Ok)
            {
                if (update_indexes)
                    list_free(ExecInsertIndexTuples(rri, new_slot, estate, true, false, NULL, NIL));
                old_version = version;
                break;
            }
            if (result == TM_Updated || result == TM_Deleted)
            {
                /* What an UPDATE statement does (ExecUpdate). */
                if (IsolationUsesXactSnapshot())
                    ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                                    errmsg("could not serialize access due to concurrent update")));
                if (result == TM_Deleted)
                    break; /* the row is gone: the caller creates it */
                /* READ COMMITTED: lock the newest version and add to it. */
                result = table_tuple_lock(rel, &tid, snapshot, old_slot, estate->es_output_cid, lockmode,
                                          LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
                if (result == TM_Ok)
                {
                    tid = old_slot->tts_tid;
                    continue;
                }
                if (result == TM_Deleted)
                    break;
            }
            elog(ERROR, "chronicle: unexpected result %d updating the row of stream \"%s\"", (int)result,
                 text_to_cstring(stream_id));
        }
    }

    ExecDropSingleTupleTableSlot(new_slot);
    ExecDropSingleTupleTableSlot(old_slot);
    UnregisterSnapshot(snapshot);
    index_close(index, NoLock);
    events_direct_close(&target);
    /* What the next look-up of this transaction reads must see the new version. */
    CommandCounterIncrement();
    return old_version;
}

/* Copy a stored hash into out, refusing a malformed one. */
static void copy_prev_hash(bytea *hash, text *stream_id, int64 version, uint8 *out)
{
    if (hash == NULL || VARSIZE_ANY_EXHDR(hash) != EVENTS_HASH_LEN)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("stream \"%s\" event %lld has a malformed hash",
                               text_to_cstring(stream_id), (long long)version),
                        errhint("Run chronicle.verify() to see the damage.")));
    memcpy(out, VARDATA_ANY(hash), EVENTS_HASH_LEN);
}

bool events_prev_hash(const EventsCatalog *catalog, text *stream_id, int64 version, uint8 *out)
{
    Relation rel = table_open(catalog->events, AccessShareLock);
    Oid pk = RelationGetPrimaryKeyIndex(rel);
    Relation index = OidIsValid(pk) ? index_open(pk, AccessShareLock) : NULL;
    if (index == NULL || !index_leads_with(index, 2, event_key_types))
    {
        /* Not the documented primary key: a SELECT finds the row whatever the indexes. */
        if (index != NULL)
            index_close(index, NoLock);
        table_close(rel, NoLock);
        bytea *hash;
        if (!prev_hash_with_sql(stream_id, version, &hash))
            return false;
        copy_prev_hash(hash, stream_id, version, out);
        return true;
    }
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());

    ScanKeyData keys[2];
    ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, index->rd_indcollation[0],
                           F_TEXTEQ, PointerGetDatum(stream_id));
    ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid, InvalidOid, F_INT8EQ,
                           Int64GetDatum(version));
    TupleTableSlot *slot = table_slot_create(rel, NULL);
    IndexScanDesc scan = index_beginscan(rel, index, snapshot, 2, 0);
    index_rescan(scan, keys, 2, NULL, 0);
    bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
    if (found)
    {
        bool isnull;
        Datum value = slot_getattr(slot, EV_HASH, &isnull);
        copy_prev_hash(isnull ? NULL : DatumGetByteaPP(value), stream_id, version, out);
    }
    index_endscan(scan);
    ExecDropSingleTupleTableSlot(slot);
    UnregisterSnapshot(snapshot);
    index_close(index, NoLock);
    table_close(rel, NoLock);
    return found;
}

/* events_stream_bump's fallback: the UPDATE statement, or the upsert of a new stream (append.h). */
int64 append_bump_with_sql(const EventsCatalog *catalog, text *stream, const char *stream_id, int category_len,
                           int count, TimestampTz now, bool create, uint8 *prev, bool *prev_known)
{
    bool distributed = catalog->distributed;
    static const Oid upsert_types[4] = {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID};
    Datum upsert_args[4] = {PointerGetDatum(stream),
                            PointerGetDatum(cstring_to_text_with_len(stream_id, category_len)),
                            Int64GetDatum(count), TimestampTzGetDatum(now)};
    if (!create)
    {
        SPIPlanPtr update = distributed ? pg::spi::kept_plan(&update_plain_plan, UPDATE_PLAIN_SQL, 4, upsert_types)
                                        : pg::spi::kept_plan(&update_plan, UPDATE_SQL, 4, upsert_types);
        if (pg::spi::execute_plan(update, upsert_args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
            elog(ERROR, "chronicle: stream update failed");
    }
    if (create || SPI_processed == 0)
    {
        SPIPlanPtr upsert = distributed ? pg::spi::kept_plan(&upsert_plain_plan, UPSERT_PLAIN_SQL, 4, upsert_types)
                                        : pg::spi::kept_plan(&upsert_plan, UPSERT_SQL, 4, upsert_types);
        if (pg::spi::execute_plan(upsert, upsert_args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
            elog(ERROR, "chronicle: stream upsert failed");
    }
    if (SPI_processed != 1)
        elog(ERROR, "chronicle: stream row of \"%s\" not written", text_to_cstring(stream));
    /*
     * The previous event's hash is missing only when this append waited for
     * the stream lock and the event it waited for committed after the
     * statement's snapshot (READ COMMITTED): the caller then reads it with a
     * new snapshot, which sees it.
     */
    bool isnull;
    int64 new_version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    int64 old_version = new_version - count;
    Datum prev_datum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
    *prev_known = old_version > 0 && !isnull;
    if (*prev_known)
        copy_prev_hash(DatumGetByteaPP(prev_datum), stream, old_version, prev);
    return old_version;
}
