/*
 * scan.cpp: reading a stream's events straight from the primary key index
 * (scan.h).
 */
#include "replay/scan.h"
#include "pg/citus.h"
#include "row/event_row.h"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "access/heapam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_type_d.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
}

/*
 * The columns this scan checks and may return: those of 0.1.0, through hash.
 * tags (0.2.0) is neither read nor required, as before it existed: a role
 * with SELECT on exactly those columns replays with a rules reducer
 * (sql/replay_stream.sql).
 */
static constexpr int SCAN_COLUMNS = EV_HASH;

/* Does the table still have those columns at their positions? */
static bool usable_table(Relation heap)
{
    return heap->rd_tableam == GetHeapamTableAmRoutine() &&
           event_row_desc_matches(RelationGetDescr(heap), SCAN_COLUMNS);
}

/*
 * The permission check of the executor for the same query over the
 * SCAN_COLUMNS: SELECT on the table, or on each of those columns; the error
 * (42501, "permission denied for table events") and any check a security
 * plugin adds through ExecutorCheckPerms_hook are the executor's own.
 */
static void check_select(Oid relid)
{
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = RELKIND_RELATION;
    rte->rellockmode = AccessShareLock;
    rte->requiredPerms = ACL_SELECT;
    for (int attno = 1; attno <= SCAN_COLUMNS; attno++)
        rte->selectedCols = bms_add_member(rte->selectedCols, attno - FirstLowInvalidHeapAttributeNumber);
    ExecCheckRTPerms(list_make1(rte), true);
}

struct EventScan
{
    Relation heap;
    Relation index;
    IndexScanDesc scan; /* only its TIDs are used */
    Snapshot snapshot;
    ScanKeyData keys[2];
    int64 after; /* rows with version <= after are skipped */
    int64 upto;  /* the scan ends at the first version > upto */
    int natts;   /* deformed for the caller */

    /* The batch: the visible tuples of one heap page, in index order. */
    Buffer buffer; /* pinned while its tuples are in use */
    HeapTupleData tuples[MaxHeapTuplesPerPage];
    int ntuples;
    int next;
    ItemPointerData pending; /* an index entry read past the batch */
    bool has_pending;
    bool index_done;
    TupleTableSlot *slot; /* for rows that lack a column (see event_scan_next) */
    Datum values[EV_NCOLUMNS];
    bool isnull[EV_NCOLUMNS];
};

/*
 * What texteq decides under a deterministic collation (equal strings are
 * equal bytes), without looking the collation up again for every index
 * entry the scan tests.  Index entries and the stream name are almost
 * always plain (uncompressed) values, read in place without the call
 * pg_detoast_datum_packed costs per entry.
 */
static inline text *plain_text(Datum d)
{
    text *t = reinterpret_cast<text *>(DatumGetPointer(d));
    return VARATT_IS_COMPRESSED(t) || VARATT_IS_EXTERNAL(t) ? pg_detoast_datum_packed(t) : t;
}

static Datum same_bytes(PG_FUNCTION_ARGS)
{
    text *a = plain_text(PG_GETARG_DATUM(0));
    text *b = plain_text(PG_GETARG_DATUM(1));
    Size len = VARSIZE_ANY_EXHDR(a);
    bool same = len == VARSIZE_ANY_EXHDR(b) && memcmp(VARDATA_ANY(a), VARDATA_ANY(b), len) == 0;
    PG_FREE_IF_COPY(a, 0);
    PG_FREE_IF_COPY(b, 1);
    PG_RETURN_BOOL(same);
}

/* Is index the btree (stream_id, version) this scan's keys and order assume? */
static bool usable_index(Relation index, Oid relid)
{
    Form_pg_index ix = index->rd_index;
    return index->rd_rel->relam == BTREE_AM_OID && ix->indrelid == relid && ix->indisvalid &&
           ix->indnkeyatts == 2 && ix->indkey.values[0] == 1 && ix->indkey.values[1] == 2 &&
           index->rd_opcintype[0] == TEXTOID && index->rd_opcintype[1] == INT8OID &&
           index->rd_indoption[0] == 0 && index->rd_indoption[1] == 0;
}

EventScan *event_scan_begin(text *stream_id, int64 after, int64 upto, int natts)
{
    /* Replay runs inside a query, which always has one; without it, SPI decides. */
    if (!ActiveSnapshotSet())
        return nullptr;

    /* Locks as the executor takes them: AccessShareLock on table and index, until commit. */
    RangeVar *rv = makeRangeVar(const_cast<char *>("chronicle"), const_cast<char *>("events"), -1);
    Oid relid = RangeVarGetRelid(rv, AccessShareLock, false);
    /* Policies are applied by the planner: leave such a table to SPI. */
    if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
        return nullptr;
    check_select(relid);

    /*
     * On a Citus cluster the rows are in the stream's shard; when that is on
     * another node, SQL (which Citus routes there) reads them.
     */
    if (pg::citus::installed())
    {
        bool distributed;
        Oid shard = pg::citus::local_placement(relid, stream_id, &distributed);
        if (!OidIsValid(shard))
            return nullptr;
        if (shard != relid)
        {
            LockRelationOid(shard, AccessShareLock);
            relid = shard;
        }
    }

    Relation heap = table_open(relid, NoLock);
    Oid pk = usable_table(heap) ? RelationGetPrimaryKeyIndex(heap) : InvalidOid;
    if (!OidIsValid(pk))
    {
        table_close(heap, NoLock);
        return nullptr;
    }
    Relation index = index_open(pk, AccessShareLock);
    if (!usable_index(index, relid))
    {
        index_close(index, NoLock);
        table_close(heap, NoLock);
        return nullptr;
    }

    EventScan *s = static_cast<EventScan *>(palloc0(sizeof(EventScan)));
    s->heap = heap;
    s->index = index;
    s->snapshot = RegisterSnapshot(GetActiveSnapshot());
    s->after = after;
    s->upto = upto;
    s->natts = Min(Max(natts, EV_VERSION), SCAN_COLUMNS);
    s->buffer = InvalidBuffer;

    /*
     * The stream is the only key btree must test on every entry (equality
     * in the index's collation); the version bounds are checked on the rows
     * fetched, except that a lower bound past the start positions the scan
     * (a replay continuing from a snapshot).
     */
    int nkeys = 1;
    Oid collation = index->rd_indcollation[0];
    if (get_collation_isdeterministic(collation))
    {
        /* btree descends with the index's own comparison; this only tests entries. */
        FmgrInfo eq{};
        eq.fn_addr = same_bytes;
        eq.fn_oid = InvalidOid;
        eq.fn_nargs = 2;
        eq.fn_strict = true;
        eq.fn_stats = TRACK_FUNC_ALL;
        eq.fn_mcxt = CurrentMemoryContext;
        ScanKeyEntryInitializeWithInfo(&s->keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, collation,
                                       &eq, PointerGetDatum(stream_id));
    }
    else
        ScanKeyEntryInitialize(&s->keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, collation, F_TEXTEQ,
                               PointerGetDatum(stream_id));
    if (after > 0)
        ScanKeyEntryInitialize(&s->keys[nkeys++], 0, 2, BTGreaterStrategyNumber, InvalidOid,
                               InvalidOid, F_INT8GT, Int64GetDatum(after));

    s->slot = MakeSingleTupleTableSlot(RelationGetDescr(heap), &TTSOpsHeapTuple);
    s->scan = index_beginscan(heap, index, s->snapshot, nkeys, 0);
    index_rescan(s->scan, s->keys, nkeys, nullptr, 0);
    return s;
}

/*
 * How many tuples ahead of the one being read to ask the CPU for.  A replay
 * reads most of every tuple, each one a cache miss away, and a few requests
 * in flight ahead of the reader hide most of that wait.  Asking for a whole
 * page's tuples at once, as this did before, overflows the CPU's queue of
 * misses; 3 to 24 ahead measured alike, 8-10% of a replay against none.
 */
static const int PREFETCH_AHEAD = 8;

static inline void prefetch_tuple(const HeapTupleData *tuple)
{
    const char *t = reinterpret_cast<const char *>(tuple->t_data);
    for (uint32 k = 0; k < tuple->t_len; k += 64)
        __builtin_prefetch(t + k);
}

/*
 * The next batch: the index entries that point into one heap page, then the
 * page's visible tuples among them, found under one share lock (with
 * heap_hot_search_buffer, which follows HOT chains and takes the predicate
 * locks of serializable transactions, as every index fetch does).  The
 * tuples point into the page, which stays pinned until the next batch: a
 * pinned page is never pruned or compacted.  False when the index is done.
 */
static bool next_batch(EventScan *s)
{
    ItemPointerData tids[MaxHeapTuplesPerPage];
    int n = 0;
    s->ntuples = s->next = 0;

    if (s->has_pending)
    {
        tids[n++] = s->pending;
        s->has_pending = false;
    }
    while (n < MaxHeapTuplesPerPage && !s->index_done)
    {
        ItemPointer tid = index_getnext_tid(s->scan, ForwardScanDirection);
        if (!tid)
            s->index_done = true;
        else if (n > 0 && ItemPointerGetBlockNumber(tid) != ItemPointerGetBlockNumber(&tids[0]))
        {
            s->pending = *tid;
            s->has_pending = true;
            break;
        }
        else
            tids[n++] = *tid;
    }
    if (n == 0)
        return false;

    Buffer previous = s->buffer;
    s->buffer = ReleaseAndReadBuffer(s->buffer, s->heap, ItemPointerGetBlockNumber(&tids[0]));
    if (s->buffer != previous)
        heap_page_prune_opt(s->heap, s->buffer);
    LockBuffer(s->buffer, BUFFER_LOCK_SHARE);
    Page page = BufferGetPage(s->buffer);
    /*
     * On a page marked all-visible every tuple is visible to every snapshot,
     * so an index entry's item is the row itself, as a sequential scan's
     * heapgetpage() trusts the same flag: no visibility test and no HOT-chain
     * walk (an index entry points at the chain's root, which on such a page
     * is the only version).  Not for snapshots taken during recovery (the
     * flag may be ahead of them), and not under SERIALIZABLE, whose
     * predicate locks heap_hot_search_buffer takes.  An item that is not a
     * normal tuple goes the general way.
     */
    bool all_visible = PageIsAllVisible(page) && !s->snapshot->takenDuringRecovery &&
                       !IsolationIsSerializable();
    OffsetNumber max_offset = PageGetMaxOffsetNumber(page);
    for (int i = 0; i < n; i++)
    {
        HeapTuple tuple = &s->tuples[s->ntuples];
        OffsetNumber offset = ItemPointerGetOffsetNumber(&tids[i]);
        if (all_visible && offset >= FirstOffsetNumber && offset <= max_offset)
        {
            ItemId item = PageGetItemId(page, offset);
            if (ItemIdIsNormal(item))
            {
                tuple->t_data = (HeapTupleHeader)PageGetItem(page, item);
                tuple->t_len = ItemIdGetLength(item);
                tuple->t_tableOid = RelationGetRelid(s->heap);
                tuple->t_self = tids[i];
                s->ntuples++;
                pgstat_count_heap_fetch(s->index);
                continue;
            }
        }
        bool all_dead;
        if (heap_hot_search_buffer(&tids[i], s->heap, s->buffer, s->snapshot, tuple, &all_dead, true))
        {
            s->ntuples++;
            pgstat_count_heap_fetch(s->index);
        }
    }
    LockBuffer(s->buffer, BUFFER_LOCK_UNLOCK);
    for (int i = 0; i < Min(s->ntuples, PREFETCH_AHEAD); i++)
        prefetch_tuple(&s->tuples[i]);
    return true;
}

/*
 * heap_deform_tuple for the first natts attributes only, with the
 * PostgreSQL macros it uses: a replay needs the columns up to data.  A
 * tuple without nulls (every row: the columns are NOT NULL) is read by the
 * storage its column types fix, checked by usable_table(); the general
 * loop, which asks the descriptor about every attribute, was an eighth of
 * a replay's instructions, this is a third of that.
 */
static void deform(EventScan *s, HeapTuple tuple)
{
    HeapTupleHeader tup = tuple->t_data;
    if (!HeapTupleHasNulls(tuple))
    {
        event_row_deform(tup, s->natts, s->values, s->isnull);
        return;
    }
    char *tp = reinterpret_cast<char *>(tup) + tup->t_hoff;

    uint32 off = 0;
    bits8 *bp = tup->t_bits;
    TupleDesc desc = RelationGetDescr(s->heap);
    for (int i = 0; i < s->natts; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att_isnull(i, bp))
        {
            s->values[i] = (Datum) 0;
            s->isnull[i] = true;
            continue;
        }
        s->isnull[i] = false;
        if (att->attlen == -1)
            off = att_align_pointer(off, att->attalign, -1, tp + off);
        else
            off = att_align_nominal(off, att->attalign);
        s->values[i] = fetchatt(att, tp + off);
        off = att_addlength_pointer(off, att->attlen, tp + off);
    }
}

bool event_scan_next(EventScan *s, EventRow *row)
{
    for (;;)
    {
        CHECK_FOR_INTERRUPTS();
        if (s->next == s->ntuples)
        {
            if (!next_batch(s))
                return false;
            continue;
        }
        if (s->next + PREFETCH_AHEAD < s->ntuples)
            prefetch_tuple(&s->tuples[s->next + PREFETCH_AHEAD]);
        HeapTuple tuple = &s->tuples[s->next++];
        if (HeapTupleHeaderGetNatts(tuple->t_data) >= s->natts)
        {
            deform(s, tuple);
            row->values = s->values;
            row->isnull = s->isnull;
        }
        else
        {
            /* Stored before a column was added: the slot supplies its default. */
            ExecStoreHeapTuple(tuple, s->slot, false);
            slot_getsomeattrs(s->slot, s->natts);
            row->values = s->slot->tts_values;
            row->isnull = s->slot->tts_isnull;
        }
        int64 version = DatumGetInt64(row->values[EV_VERSION - 1]);
        if (version <= s->after)
            continue;
        if (version > s->upto)
            return false;
        return true;
    }
}

void event_scan_end(EventScan *s)
{
    ExecDropSingleTupleTableSlot(s->slot);
    if (BufferIsValid(s->buffer))
        ReleaseBuffer(s->buffer);
    index_endscan(s->scan);
    UnregisterSnapshot(s->snapshot);
    index_close(s->index, NoLock);
    table_close(s->heap, NoLock);
    pfree(s);
}
