/*
 * verify.cpp: chronicle.verify(stream_id) recomputes the hash chain of one
 * stream or of all, and reports one row per problem (docs/reference/events.md):
 *
 *   hash mismatch      the row's stored hash is not sha256(previous stored
 *                      hash || canonical row): the row was edited (or its
 *                      predecessor's hash was); the next rows are checked
 *                      against the stored hash, so one edit is one problem
 *   missing version(s) a gap in the versions (reported once per gap, at the
 *                      first missing version); the row after a gap cannot be
 *                      linked and is not hash-checked
 *   duplicate version  the same (stream, version) twice
 *   stream version     chronicle.streams disagrees with the stream's last
 *                      event, or a stream row or its events are missing
 *
 * It reads through a cursor in pages, so memory stays flat on any log size,
 * and writes nothing (it runs on a hot standby).
 */
#include "events/events.h"
#include "pg/spi.h"
#include "pg/boundary.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
}

namespace {

SPIPlanPtr scan_all_plan;
SPIPlanPtr scan_v1_plan;
SPIPlanPtr scan_one_plan;
SPIPlanPtr streams_all_plan;
SPIPlanPtr streams_one_plan;

/*
 * The content digest each redacted event's latest receipt (chained, in
 * stream chronicle-erasures) recorded, for every event the receipts name
 * ($1: in one stream, or NULL: all), one row per event: what the walk's
 * redacted rows are checked against (check_receipts).  One pass over the
 * receipts: a look-up per redacted event, each unnesting every receipt, made
 * verify() quadratic (5,000 redacted events: 31 s).  Run apart from the
 * scan, after it (one stream: Citus routes it to one node).
 */
#define RECEIPT_DIGESTS(FROM, WHERE, LATEST)                                                                     \
    "SELECT DISTINCT ON (r.sid, r.ver) r.sid, "                                                          \
    "CASE WHEN r.ver OPERATOR(pg_catalog.=) pg_catalog.trunc(r.ver) AND r.ver OPERATOR(pg_catalog.>=) 1 " \
    "AND r.ver OPERATOR(pg_catalog.<=) 9223372036854775807 THEN r.ver::pg_catalog.int8 END, r.digest "   \
    "FROM (SELECT x OPERATOR(pg_catalog.->>) 'stream_id' AS sid, "                                        \
    "(x OPERATOR(pg_catalog.->>) 'version')::pg_catalog.numeric AS ver, "                                 \
    "x OPERATOR(pg_catalog.->>) 'content_digest' AS digest, c.version AS receipt, c.stream_id AS rs, "    \
    "c.recorded_at AS at "                                                                                \
    "FROM " FROM " c, "                                                                                   \
    "pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof(c.data OPERATOR(pg_catalog.->) 'events') " \
    "WHEN 'array' THEN c.data OPERATOR(pg_catalog.->) 'events' ELSE '[]'::pg_catalog.jsonb END) x "       \
    "WHERE " WHERE " "                                                                                    \
    "AND pg_catalog.jsonb_typeof(x) OPERATOR(pg_catalog.=) 'object' "                                     \
    "AND pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'stream_id') OPERATOR(pg_catalog.=) 'string' " \
    "AND pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'version') OPERATOR(pg_catalog.=) 'number' "   \
    "AND ($1 IS NULL OR x OPERATOR(pg_catalog.->) 'stream_id' OPERATOR(pg_catalog.=) pg_catalog.to_jsonb($1))) r " \
    "ORDER BY r.sid, r.ver, " LATEST
const char *const RECEIPT_DIGESTS_SQL =
    RECEIPT_DIGESTS("chronicle.events", "c.stream_id OPERATOR(pg_catalog.=) '" EVENT_RECEIPTS_STREAM "'",
                    "r.receipt DESC");
SPIPlanPtr receipt_digests_plan;
/*
 * On a Citus cluster (docs/design/citus.md) a stream's receipts were written
 * to the receipt stream of its shard group as the shard boundaries were then
 * (events_receipts_stream); a shard split since may have put that receipt
 * stream in another shard, on another node.  So verify() of one stream as of
 * every stream reads every receipt stream ($1 then keeps the stream's
 * receipts).  The receipts are read first (a CTE Citus runs apart), the rest
 * runs on their rows: DISTINCT ON over several shards is not Citus's to plan.
 * An event redacted before and after a split has receipts in two receipt
 * streams, whose versions do not compare: the latest is the one in the
 * stream's receipt stream as it is now ($2, events_receipts_stream; NULL
 * for every stream), then the latest recorded (a transaction's start time:
 * two redactions of one event within a shard move and the nodes' clock skew
 * could be misordered, a false "content differs", never a forgery passed).
 */
#define RECEIPT_ROWS(WHERE)                                                                              \
    "WITH rc AS MATERIALIZED (SELECT c.stream_id, c.version, c.recorded_at, c.data FROM chronicle.events c " \
    "WHERE " WHERE ") "
const char *const RECEIPT_DIGESTS_ALL_CLUSTER_SQL =
    RECEIPT_ROWS("c.stream_id OPERATOR(pg_catalog.~) '^" EVENT_RECEIPTS_PREFIX "[0-9]{1,10}$'")
        RECEIPT_DIGESTS("rc", "true",
                        "(r.rs OPERATOR(pg_catalog.=) $2) IS TRUE DESC, r.at DESC, r.receipt DESC");
SPIPlanPtr receipt_digests_all_cluster_plan;

/*
 * Events a receipt names that carry no original_digest: put back as they
 * were before their redaction (their link holds again, since it commits to
 * the digest of that content), which only the receipt remembers.  $1: one
 * stream, or NULL for all.
 */
#define UNREDACTED(FROM, WHERE, EVENTS_WHERE)                                                            \
    "SELECT e.stream_id, e.version FROM (SELECT DISTINCT x OPERATOR(pg_catalog.->>) 'stream_id' AS sid, " \
    "CASE WHEN pg_catalog.jsonb_typeof(x OPERATOR(pg_catalog.->) 'version') OPERATOR(pg_catalog.=) 'number' " \
    "AND (x OPERATOR(pg_catalog.->>) 'version') OPERATOR(pg_catalog.~) '^[0-9]{1,18}$' "               \
    "THEN (x OPERATOR(pg_catalog.->>) 'version')::pg_catalog.int8 END AS ver FROM " FROM " c, "           \
    "pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof(c.data OPERATOR(pg_catalog.->) 'events') " \
    "WHEN 'array' THEN c.data OPERATOR(pg_catalog.->) 'events' ELSE '[]'::pg_catalog.jsonb END) x "       \
    "WHERE " WHERE " "                                                                                    \
    "AND pg_catalog.jsonb_typeof(x) OPERATOR(pg_catalog.=) 'object' "                                     \
    "AND ($1 IS NULL OR x OPERATOR(pg_catalog.->) 'stream_id' OPERATOR(pg_catalog.=) pg_catalog.to_jsonb($1))) r " \
    "JOIN chronicle.events e ON e.stream_id OPERATOR(pg_catalog.=) r.sid "                                \
    "AND e.version OPERATOR(pg_catalog.=) r.ver "                                                         \
    "WHERE " EVENTS_WHERE "e.original_digest OPERATOR(pg_catalog.=) '\\x'::pg_catalog.bytea ORDER BY 1, 2"
const char *const UNREDACTED_SQL =
    UNREDACTED("chronicle.events", "c.stream_id OPERATOR(pg_catalog.=) '" EVENT_RECEIPTS_STREAM "'", "");
/* On a cluster: the receipts read first (above). */
const char *const UNREDACTED_ALL_CLUSTER_SQL =
    RECEIPT_ROWS("c.stream_id OPERATOR(pg_catalog.~) '^" EVENT_RECEIPTS_PREFIX "[0-9]{1,10}$'")
        UNREDACTED("rc", "true", "");
SPIPlanPtr unredacted_all_cluster_plan;
SPIPlanPtr unredacted_plan;

/* A redacted row seen by the walk, checked against its receipt after it. */
struct Redacted
{
    char *stream;
    int stream_len;
    int64 version;
    char hex[EVENTS_HASH_LEN * 2 + 1];
    bool has_receipt;
};

/* check_receipts' index of the redacted rows. */
struct RedactedKey
{
    const char *stream;
    int stream_len;
    int64 version;
};
struct RedactedEntry
{
    RedactedKey key;
    Redacted *row;
};

uint32 redacted_hash(const void *key, Size)
{
    const RedactedKey *k = static_cast<const RedactedKey *>(key);
    return hash_combine(hash_bytes(reinterpret_cast<const unsigned char *>(k->stream), k->stream_len),
                        hash_bytes_uint32((uint32)k->version ^ (uint32)((uint64)k->version >> 32)));
}

int redacted_match(const void *a, const void *b, Size)
{
    const RedactedKey *x = static_cast<const RedactedKey *>(a);
    const RedactedKey *y = static_cast<const RedactedKey *>(b);
    return x->version != y->version || x->stream_len != y->stream_len ||
           memcmp(x->stream, y->stream, x->stream_len) != 0;
}

void *redacted_key_copy(void *dest, const void *src, Size)
{
    memcpy(dest, src, sizeof(RedactedKey));
    return dest;
}

/* Verify scan rows (events.h): chain v1's columns 1..9, then v2's. */
const char *const SCAN_ALL_SQL = EVENTS_SCAN_REDACTED "ORDER BY e.stream_id, e.version";
const char *const SCAN_ONE_SQL =
    EVENTS_SCAN_REDACTED "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 ORDER BY e.stream_id, e.version";
/* 0.1.0's chain, for the upgrade: no redactions existed. */
const char *const SCAN_V1_SQL = EVENTS_SCAN_V1_SELECT "ORDER BY e.stream_id, e.version";

/* (stream_id, version in chronicle.streams, last event's version), mismatches only. */
const char *const STREAMS_ALL_SQL =
    "SELECT coalesce(s.stream_id, e.stream_id), s.version, e.last "
    "FROM chronicle.streams s FULL JOIN "
    "(SELECT e.stream_id, max(e.version) AS last FROM chronicle.events e GROUP BY e.stream_id) e "
    "ON e.stream_id OPERATOR(pg_catalog.=) s.stream_id "
    "WHERE s.stream_id IS NULL OR e.stream_id IS NULL OR s.version OPERATOR(pg_catalog.<>) e.last "
    "ORDER BY 1";
const char *const STREAMS_ONE_SQL =
    "SELECT $1, (SELECT s.version FROM chronicle.streams s WHERE s.stream_id OPERATOR(pg_catalog.=) $1), "
    "(SELECT max(e.version) FROM chronicle.events e WHERE e.stream_id OPERATOR(pg_catalog.=) $1)";

void report(EventsReport *out, const char *stream, int stream_len, int64 version, const char *problem)
{
    Datum values[3] = {PointerGetDatum(cstring_to_text_with_len(stream, stream_len)),
                       Int64GetDatum(version), CStringGetTextDatum(problem)};
    bool nulls[3] = {false, false, false};
    tuplestore_putvalues(out->store, out->desc, values, nulls);
    out->count++;
}

/* The chain walk over rows ordered by (stream_id, version). */
struct Walk
{
    char *stream; /* current stream, in the function's memory */
    int stream_len;
    int stream_cap;
    int64 last_version; /* 0 before the stream's first row */
    uint8 prev[EVENTS_HASH_LEN];
    size_t prev_len;
    List *redacted; /* of Redacted, in keep */
};

void walk_row(Walk *w, EventsReport *out, HeapTuple row, TupleDesc desc, MemoryContext keep, bool v1)
{
    bool isnull;
    text *stream = DatumGetTextPP(SPI_getbinval(row, desc, 1, &isnull));
    const char *sid = VARDATA_ANY(stream);
    int slen = VARSIZE_ANY_EXHDR(stream);
    if (w->stream == NULL || slen != w->stream_len || memcmp(sid, w->stream, slen) != 0)
    {
        if (w->stream_cap < slen + 1)
        {
            w->stream = (char *)MemoryContextAlloc(keep, slen + 1);
            w->stream_cap = slen + 1;
        }
        memcpy(w->stream, sid, slen);
        w->stream_len = slen;
        w->last_version = 0;
        w->prev_len = 0;
    }

    int64 version = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
    bytea *hash = DatumGetByteaPP(SPI_getbinval(row, desc, 9, &isnull));
    bool hash_ok_size = VARSIZE_ANY_EXHDR(hash) == EVENTS_HASH_LEN;

    if (version <= w->last_version)
    {
        report(out, sid, slen, version,
               version == w->last_version ? "duplicate version" : "version out of order");
        return;
    }
    if (version > w->last_version + 1)
    {
        char *problem = version == w->last_version + 2
                            ? psprintf("missing version %lld", (long long)(w->last_version + 1))
                            : psprintf("missing versions %lld..%lld", (long long)(w->last_version + 1),
                                       (long long)(version - 1));
        report(out, sid, slen, w->last_version + 1, problem);
    }
    else
    {
        text *type = DatumGetTextPP(SPI_getbinval(row, desc, 4, &isnull));
        uint8 expected[EVENTS_HASH_LEN];
        if (v1)
            events_hash_v1(w->prev, w->prev_len, sid, slen, version,
                           DatumGetUUIDP(SPI_getbinval(row, desc, 3, &isnull)), VARDATA_ANY(type),
                           VARSIZE_ANY_EXHDR(type), DatumGetInt32(SPI_getbinval(row, desc, 5, &isnull)),
                           DatumGetJsonbP(SPI_getbinval(row, desc, 6, &isnull)),
                           DatumGetJsonbP(SPI_getbinval(row, desc, 7, &isnull)),
                           DatumGetTimestampTz(SPI_getbinval(row, desc, 8, &isnull)), expected);
        else
            events_scan_hash(w->prev, w->prev_len, row, desc, expected);
        if (!hash_ok_size || memcmp(VARDATA_ANY(hash), expected, EVENTS_HASH_LEN) != 0)
            report(out, sid, slen, version, "hash mismatch: the row or the chain before it was altered");
        bool redacted = false;
        if (!v1)
        {
            bool original_null;
            Datum original = SPI_getbinval(row, desc, EVENTS_SCAN_CONTENT, &original_null);
            redacted = !original_null && VARSIZE_ANY_EXHDR(DatumGetByteaPP(original)) != 0;
        }
        if (redacted)
        {
            /* The link commits to the row's original_digest, not to its
             * content: the content must be what the chained receipt says was
             * left (checked after the walk, check_receipts). */
            uint8 now[EVENTS_HASH_LEN];
            events_content_digest(DatumGetJsonbP(SPI_getbinval(row, desc, 6, &isnull)),
                                  DatumGetJsonbP(SPI_getbinval(row, desc, 7, &isnull)), now);
            MemoryContext old = MemoryContextSwitchTo(keep);
            Redacted *r = (Redacted *)palloc(sizeof(Redacted));
            r->stream = pnstrdup(sid, slen);
            r->stream_len = slen;
            r->version = version;
            r->has_receipt = false;
            for (int i = 0; i < EVENTS_HASH_LEN; i++)
                snprintf(r->hex + 2 * i, 3, "%02x", now[i]);
            w->redacted = lappend(w->redacted, r);
            MemoryContextSwitchTo(old);
        }
    }
    w->last_version = version;
    w->prev_len = hash_ok_size ? EVENTS_HASH_LEN : 0;
    if (hash_ok_size)
        memcpy(w->prev, VARDATA_ANY(hash), EVENTS_HASH_LEN);
}

/*
 * The plan reading the receipts ($1: one stream, or NULL for all): one
 * server's (in chronicle-erasures), or a cluster's (every receipt stream).
 */
SPIPlanPtr receipts_plan(bool unredacted)
{
    static const Oid types[2] = {TEXTOID, TEXTOID};
    if (!events_distributed())
        return unredacted ? pg::spi::kept_plan(&unredacted_plan, UNREDACTED_SQL, 1, types)
                          : pg::spi::kept_plan(&receipt_digests_plan, RECEIPT_DIGESTS_SQL, 1, types);
    return unredacted ? pg::spi::kept_plan(&unredacted_all_cluster_plan, UNREDACTED_ALL_CLUSTER_SQL, 1, types)
                      : pg::spi::kept_plan(&receipt_digests_all_cluster_plan, RECEIPT_DIGESTS_ALL_CLUSTER_SQL, 2,
                                           types);
}

void check_receipts(EventsReport *out, List *redacted, text *stream_id)
{
    if (redacted == NIL)
        return;
    HASHCTL ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(RedactedKey);
    ctl.entrysize = sizeof(RedactedEntry);
    ctl.hash = redacted_hash;
    ctl.match = redacted_match;
    ctl.keycopy = redacted_key_copy;
    ctl.hcxt = CurrentMemoryContext;
    HTAB *index = hash_create("chronicle verify redacted", list_length(redacted), &ctl,
                              HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);
    ListCell *lc;
    foreach (lc, redacted)
    {
        Redacted *r = (Redacted *)lfirst(lc);
        RedactedKey key{r->stream, r->stream_len, r->version};
        static_cast<RedactedEntry *>(hash_search(index, &key, HASH_ENTER, NULL))->row = r;
    }

    /* $2 (a cluster's digests plan only): the stream's receipt stream now. */
    char *current = stream_id && events_distributed() ? events_receipts_stream(stream_id) : NULL;
    Datum args[2] = {stream_id ? PointerGetDatum(stream_id) : (Datum)0,
                     current ? CStringGetTextDatum(current) : (Datum)0};
    SPIPlanPtr plan = receipts_plan(false);
    char nulls[2] = {stream_id ? ' ' : 'n', current ? ' ' : 'n'};
    Portal cursor = pg::spi::cursor_open(NULL, plan, args, nulls, true);
    while (pg::spi::fetch_batch(cursor, 1000))
    {
        SPITupleTable *table = SPI_tuptable;
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            bool stream_null, version_null, digest_null;
            Datum sid = SPI_getbinval(table->vals[i], table->tupdesc, 1, &stream_null);
            Datum version = SPI_getbinval(table->vals[i], table->tupdesc, 2, &version_null);
            Datum digest = SPI_getbinval(table->vals[i], table->tupdesc, 3, &digest_null);
            if (stream_null || version_null)
                continue;
            text *stream = DatumGetTextPP(sid);
            RedactedKey key{VARDATA_ANY(stream), (int)VARSIZE_ANY_EXHDR(stream), DatumGetInt64(version)};
            RedactedEntry *e = static_cast<RedactedEntry *>(hash_search(index, &key, HASH_FIND, NULL));
            if (e == NULL)
                continue; /* not redacted: check_unredacted's */
            Redacted *r = e->row;
            r->has_receipt = true;
            text *want = digest_null ? NULL : DatumGetTextPP(digest);
            if (want == NULL || VARSIZE_ANY_EXHDR(want) != EVENTS_HASH_LEN * 2 ||
                memcmp(VARDATA_ANY(want), r->hex, EVENTS_HASH_LEN * 2) != 0)
                report(out, r->stream, r->stream_len, r->version,
                       "content differs from what its redaction left (receipt in stream chronicle-erasures)");
        }
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);
    foreach (lc, redacted)
    {
        CHECK_FOR_INTERRUPTS();
        Redacted *r = (Redacted *)lfirst(lc);
        if (!r->has_receipt)
            report(out, r->stream, r->stream_len, r->version,
                   "redacted without a receipt in stream chronicle-erasures: original_digest was set without chronicle.redact");
    }
    hash_destroy(index);
}

void check_unredacted(EventsReport *out, text *stream_id)
{
    Datum args[1] = {stream_id ? PointerGetDatum(stream_id) : (Datum)0};
    SPIPlanPtr plan = receipts_plan(true);
    char nulls[1] = {stream_id ? ' ' : 'n'};
    if (pg::spi::execute_plan(plan, args, nulls, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the erasure receipts failed");
    SPITupleTable *table = SPI_tuptable;
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        bool isnull;
        text *stream = DatumGetTextPP(SPI_getbinval(table->vals[i], table->tupdesc, 1, &isnull));
        report(out, VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream),
               DatumGetInt64(SPI_getbinval(table->vals[i], table->tupdesc, 2, &isnull)),
               "no original_digest, but a receipt in stream chronicle-erasures says it was redacted (its content put back?)");
    }
}

void check_stream_rows(EventsReport *out, SPIPlanPtr plan, Datum *args)
{
    if (pg::spi::execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: verify of chronicle.streams failed");
    SPITupleTable *table = SPI_tuptable;
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        bool id_null, version_null, last_null;
        HeapTuple row = table->vals[i];
        text *stream = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 1, &id_null));
        Datum version = SPI_getbinval(row, table->tupdesc, 2, &version_null);
        Datum last = SPI_getbinval(row, table->tupdesc, 3, &last_null);
        if (version_null && last_null)
            continue; /* neither a stream row nor events: nothing to check */
        if (!version_null && !last_null && DatumGetInt64(version) == DatumGetInt64(last))
            continue;
        char *problem =
            version_null ? psprintf("events without a chronicle.streams row")
            : last_null  ? psprintf("chronicle.streams says version %lld but the stream has no events",
                                    (long long)DatumGetInt64(version))
                         : psprintf("chronicle.streams says version %lld but the last event is %lld",
                                    (long long)DatumGetInt64(version), (long long)DatumGetInt64(last));
        report(out, VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream),
               version_null ? DatumGetInt64(last) : DatumGetInt64(version), problem);
    }
}

} // namespace

void events_scan_hash(const uint8 *prev, size_t prev_len, HeapTuple row, TupleDesc desc, uint8 *out)
{
    bool isnull;
    text *stream = DatumGetTextPP(SPI_getbinval(row, desc, 1, &isnull));
    text *type = DatumGetTextPP(SPI_getbinval(row, desc, 4, &isnull));
    uint8 content[EVENTS_HASH_LEN];
    Datum kept = SPI_getbinval(row, desc, EVENTS_SCAN_CONTENT, &isnull);
    size_t kept_len = isnull ? 0 : VARSIZE_ANY_EXHDR(DatumGetByteaPP(kept));
    if (kept_len == EVENTS_HASH_LEN)
        memcpy(content, VARDATA_ANY(DatumGetByteaPP(kept)), EVENTS_HASH_LEN);
    else if (kept_len != 0)
        memset(content, 0, EVENTS_HASH_LEN); /* a malformed original_digest links nothing */
    else
        events_content_digest(DatumGetJsonbP(SPI_getbinval(row, desc, 6, &isnull)),
                              DatumGetJsonbP(SPI_getbinval(row, desc, 7, &isnull)), content);
    Datum tags = SPI_getbinval(row, desc, EVENTS_SCAN_TAGS_COLUMN, &isnull);
    EventsLink link = {VARDATA_ANY(stream),
                       VARSIZE_ANY_EXHDR(stream),
                       DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull)),
                       DatumGetInt64(SPI_getbinval(row, desc, EVENTS_SCAN_POSITION, &isnull)),
                       DatumGetUUIDP(SPI_getbinval(row, desc, 3, &isnull)),
                       VARDATA_ANY(type),
                       VARSIZE_ANY_EXHDR(type),
                       DatumGetInt32(SPI_getbinval(row, desc, 5, &isnull)),
                       DatumGetTimestampTz(SPI_getbinval(row, desc, 8, &isnull)),
                       U64FromFullTransactionId(
                           DatumGetFullTransactionId(SPI_getbinval(row, desc, EVENTS_SCAN_TX, &isnull))),
                       NULL,
                       content};
    bool tags_null;
    (void)SPI_getbinval(row, desc, EVENTS_SCAN_TAGS_COLUMN, &tags_null);
    link.tags = tags_null ? NULL : DatumGetArrayTypeP(tags);
    events_hash(prev, prev_len, &link, out);
}

namespace {

/* The chain walk of one scan (a cursor over SCAN_*_SQL); the redacted rows go to walk->redacted. */
void walk_scan(EventsReport *out, SPIPlanPtr scan, Datum *args, MemoryContext keep, bool v1, Walk *walk)
{
    Portal cursor = pg::spi::cursor_open(NULL, scan, args, NULL, true);
    MemoryContext rows = AllocSetContextCreate(CurrentMemoryContext, "chronicle verify rows",
                                               ALLOCSET_DEFAULT_SIZES);
    while (pg::spi::fetch_batch(cursor, 1000))
    {
        SPITupleTable *table = SPI_tuptable;
        MemoryContext old = MemoryContextSwitchTo(rows);
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            walk_row(walk, out, table->vals[i], table->tupdesc, keep, v1);
            MemoryContextReset(rows);
        }
        MemoryContextSwitchTo(old);
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);
    MemoryContextDelete(rows);
}

} // namespace

void events_verify_into(EventsReport *out, text *stream_id, bool v1)
{
    MemoryContext keep = CurrentMemoryContext;
    bool one = stream_id != NULL;
    Datum args[1] = {one ? PointerGetDatum(stream_id) : (Datum)0};
    static const Oid argtypes[1] = {TEXTOID};
    {
        SPIPlanPtr scan = v1    ? pg::spi::kept_plan(&scan_v1_plan, SCAN_V1_SQL, 0, NULL)
                          : one ? pg::spi::kept_plan(&scan_one_plan, SCAN_ONE_SQL, 1, argtypes)
                                : pg::spi::kept_plan(&scan_all_plan, SCAN_ALL_SQL, 0, NULL);
        Walk walk;
        memset(&walk, 0, sizeof(walk));
        walk_scan(out, scan, args, keep, v1, &walk);
        check_receipts(out, walk.redacted, stream_id);
        if (!v1)
            check_unredacted(out, stream_id);
        /*
         * One stream's redacted events were checked against receipts of
         * another stream, chronicle-erasures: their chain is walked too (its
         * problems reported under its name), or a receipt edited with the
         * event it describes would pass where verify() of all reports it.
         * On a cluster: the receipt stream of the stream's shard group as it
         * is now (none in a shard isolated for one tenant); a receipt stream
         * a shard split left elsewhere is walked by verify() of all.
         */
        if (one && walk.redacted != NIL &&
            !event_row_is_receipt(VARDATA_ANY(stream_id), VARSIZE_ANY_EXHDR(stream_id)))
        {
            char *name = events_receipts_stream(stream_id);
            if (name != NULL)
            {
                Datum receipts[1] = {CStringGetTextDatum(name)};
                Walk receipts_walk;
                memset(&receipts_walk, 0, sizeof(receipts_walk));
                walk_scan(out, scan, receipts, keep, v1, &receipts_walk);
            }
        }

        if (one)
            check_stream_rows(out, pg::spi::kept_plan(&streams_one_plan, STREAMS_ONE_SQL, 1, argtypes), args);
        else
            check_stream_rows(out, pg::spi::kept_plan(&streams_all_plan, STREAMS_ALL_SQL, 0, NULL), NULL);
    }
}

SQL_FUNCTION(chronicle_verify)
{
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    EventsReport out = {rsinfo->setResult, rsinfo->setDesc, 0};
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    events_verify_into(&out, PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), false);
    SPI_finish();
    return (Datum)0;
}
