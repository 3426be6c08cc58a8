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
 * The content digest each redacted event's latest receipt (chained, in a
 * receipt stream) recorded, for every event the receipts name ($1: in one
 * stream, or NULL: all), one row per event, with the receipt stream it is
 * in: what the walk's redacted rows are checked against (check_receipts).
 * One pass over the receipts: a look-up per redacted event, each unnesting
 * every receipt, made verify() quadratic (5,000 redacted events: 31 s).  Run
 * apart from the scan, after it, on one receipt stream ($2: Citus routes it
 * to that stream's shard) or on a cluster's every receipt stream.
 */
#define RECEIPT_DIGESTS(FROM, WHERE, LATEST)                                                                     \
    "SELECT DISTINCT ON (r.sid, r.ver) r.sid, "                                                          \
    "CASE WHEN r.ver OPERATOR(pg_catalog.=) pg_catalog.trunc(r.ver) AND r.ver OPERATOR(pg_catalog.>=) 1 " \
    "AND r.ver OPERATOR(pg_catalog.<=) 9223372036854775807 THEN r.ver::pg_catalog.int8 END, r.digest, r.rs "\
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
    RECEIPT_DIGESTS("chronicle.events", "c.stream_id OPERATOR(pg_catalog.=) $2", "r.receipt DESC");
SPIPlanPtr receipt_digests_plan;
/*
 * On a Citus cluster (docs/design/citus.md) a stream's receipts were written
 * to the receipt stream of its shard group as the shard boundaries were then
 * (events_receipts_stream); a shard split since may have put that receipt
 * stream in another shard, on another node.  verify() of one stream reads
 * the receipt streams its chronicle.erasures rows record (receipt_streams)
 * and its receipt stream now, each apart (RECEIPT_DIGESTS_SQL); verify() of
 * every stream, or of a stream with a redacted event whose row records none
 * (a row written before the column, or a forged redaction), reads every
 * receipt stream ($1 then keeps the stream's receipts).  The receipts are read first (a CTE Citus runs apart), the rest
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
 * the digest of that content), which only the receipt remembers, with the
 * receipt stream naming them.  $1: one stream, or NULL for all; $2: the
 * receipt stream read (one server, or a cluster's one stream).
 */
#define UNREDACTED(FROM, WHERE, EVENTS_WHERE)                                                            \
    "SELECT e.stream_id, e.version, r.rs FROM (SELECT DISTINCT c.stream_id AS rs, "                     \
    "x OPERATOR(pg_catalog.->>) 'stream_id' AS sid, "                                                     \
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
    "WHERE " EVENTS_WHERE "e.original_digest OPERATOR(pg_catalog.=) '\\x'::pg_catalog.bytea ORDER BY 1, 2, 3"
const char *const UNREDACTED_SQL =
    UNREDACTED("chronicle.events", "c.stream_id OPERATOR(pg_catalog.=) $2", "");
/* On a cluster: the receipts read first (above); one receipt stream, one stream's events. */
const char *const UNREDACTED_ONE_CLUSTER_SQL =
    RECEIPT_ROWS("c.stream_id OPERATOR(pg_catalog.=) $2")
        UNREDACTED("rc", "true", "e.stream_id OPERATOR(pg_catalog.=) $1 AND ");
SPIPlanPtr unredacted_one_cluster_plan;
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
    List *recorded; /* its chronicle.erasures row's receipt streams (char *), latest last */
    int rank;       /* of the receipt chosen so far (receipt_rank) */
    char want[EVENTS_HASH_LEN * 2 + 1]; /* that receipt's content digest ("" if malformed) */
    char *receipt;  /* that receipt's stream */
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
            Redacted *r = (Redacted *)palloc0(sizeof(Redacted));
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
 * The receipt streams verify reads (docs/design/citus.md, "Erasure on a
 * cluster"): one server's chronicle-erasures; on a cluster, for one stream,
 * the receipt streams its chronicle.erasures rows record and its receipt
 * stream now, each read apart (a shard each); for every stream, or when a
 * redacted event of the stream has no recorded receipt stream, every
 * receipt stream of the cluster in one statement (every).
 */
struct ReceiptStreams
{
    bool every;
    List *names;   /* else: the streams read (char *) */
    char *current; /* a cluster's one stream: its receipt stream now (NULL: none can be placed) */
};

/* (X, version) -> receipt_streams of the stream's register rows. */
const char *const RECORDED_SQL =
    "SELECT r.version, r.receipt_streams FROM chronicle.erasures r WHERE r.stream_id OPERATOR(pg_catalog.=) $1";
SPIPlanPtr recorded_plan;

void add_name(List **names, const char *name)
{
    ListCell *lc;
    foreach (lc, *names)
        if (strcmp((const char *)lfirst(lc), name) == 0)
            return;
    *names = lappend(*names, pstrdup(name));
}

HTAB *index_redacted(List *redacted)
{
    HASHCTL ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(RedactedKey);
    ctl.entrysize = sizeof(RedactedEntry);
    ctl.hash = redacted_hash;
    ctl.match = redacted_match;
    ctl.keycopy = redacted_key_copy;
    ctl.hcxt = CurrentMemoryContext;
    HTAB *index = hash_create("chronicle verify redacted", Max(list_length(redacted), 1), &ctl,
                              HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);
    ListCell *lc;
    foreach (lc, redacted)
    {
        Redacted *r = (Redacted *)lfirst(lc);
        RedactedKey key{r->stream, r->stream_len, r->version};
        static_cast<RedactedEntry *>(hash_search(index, &key, HASH_ENTER, NULL))->row = r;
    }
    return index;
}

Redacted *find_redacted(HTAB *index, const char *stream, int len, int64 version)
{
    RedactedKey key{stream, len, version};
    RedactedEntry *e = static_cast<RedactedEntry *>(hash_search(index, &key, HASH_FIND, NULL));
    return e ? e->row : NULL;
}

/*
 * Which receipt streams to read (ReceiptStreams).  On a cluster a recorded
 * name counts only if it is a reserved receipt stream's (only redact
 * appends to those): a register row naming a writer's stream cannot make
 * that stream's rows receipts.  One server reads chronicle-erasures alone,
 * the only stream its redact writes, whatever the register says.
 */
ReceiptStreams choose_streams(text *stream_id, HTAB *index)
{
    ReceiptStreams set;
    memset(&set, 0, sizeof(set));
    if (!events_distributed())
    {
        set.names = list_make1(pstrdup(EVENT_RECEIPTS_STREAM));
        return set;
    }
    if (stream_id == NULL)
    {
        set.every = true;
        return set;
    }
    set.current = events_receipts_stream(stream_id);
    static const Oid types[1] = {TEXTOID};
    Datum args[1] = {PointerGetDatum(stream_id)};
    if (pg::spi::execute_plan(pg::spi::kept_plan(&recorded_plan, RECORDED_SQL, 1, types), args, NULL, true, 0) !=
        SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle.erasures failed");
    SPITupleTable *table = SPI_tuptable;
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        bool version_null, names_null;
        Datum version = SPI_getbinval(table->vals[i], table->tupdesc, 1, &version_null);
        Datum names = SPI_getbinval(table->vals[i], table->tupdesc, 2, &names_null);
        if (version_null || names_null)
            continue;
        Datum *elems;
        bool *nulls;
        int n;
        ArrayType *array = DatumGetArrayTypeP(names);
        if (ARR_NDIM(array) > 1)
            continue;
        deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
        Redacted *r = index ? find_redacted(index, VARDATA_ANY(stream_id), VARSIZE_ANY_EXHDR(stream_id),
                                            DatumGetInt64(version))
                            : NULL;
        for (int k = 0; k < n; k++)
        {
            if (nulls[k])
                continue;
            text *name = DatumGetTextPP(elems[k]);
            if (!event_row_is_receipt(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)))
                continue;
            char *s = text_to_cstring(name);
            add_name(&set.names, s);
            if (r)
                r->recorded = lappend(r->recorded, s);
        }
    }
    if (set.current)
        add_name(&set.names, set.current);
    if (index)
    {
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, index);
        RedactedEntry *e;
        while ((e = static_cast<RedactedEntry *>(hash_seq_search(&seq))) != NULL)
            if (e->row->recorded == NIL)
                set.every = true; /* keep scanning: hash_seq_search must run to its end */
    }
    return set;
}

/*
 * How much a receipt in stream rs counts for redacted event r: the stream's
 * receipt stream now first (a redaction writes there), then a receipt stream
 * its register row records (the later, the more: the latest redaction's is
 * last), then any other.  Within one receipt stream the query took the
 * latest receipt.  The receipt stream now comes first so that the register,
 * which is not chained, cannot choose an older receipt over one there.
 */
int receipt_rank(const Redacted *r, const char *rs, const char *current)
{
    if (current && strcmp(current, rs) == 0)
        return INT_MAX;
    int i = 1;
    int found = 0;
    ListCell *lc;
    foreach (lc, r->recorded)
    {
        if (strcmp((const char *)lfirst(lc), rs) == 0)
            found = i;
        i++;
    }
    return found;
}

/* "stream A" or "streams A, B" (names sorted). */
int cmp_names(const ListCell *a, const ListCell *b)
{
    return strcmp((const char *)lfirst(a), (const char *)lfirst(b));
}

char *streams_phrase(List *names)
{
    if (names == NIL)
        return pstrdup("any stream " EVENT_RECEIPTS_PREFIX "<n>");
    List *sorted = list_copy(names);
    list_sort(sorted, cmp_names);
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoString(&buf, list_length(sorted) == 1 ? "stream " : "streams ");
    ListCell *lc;
    foreach (lc, sorted)
    {
        if (lc != list_head(sorted))
            appendStringInfoString(&buf, ", ");
        appendStringInfoString(&buf, (const char *)lfirst(lc));
    }
    return buf.data;
}

void take_receipts(SPIPlanPtr plan, Datum *args, const char *nulls, HTAB *index, const char *current)
{
    Portal cursor = pg::spi::cursor_open(NULL, plan, args, nulls, true);
    while (pg::spi::fetch_batch(cursor, 1000))
    {
        SPITupleTable *table = SPI_tuptable;
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            bool stream_null, version_null, digest_null, rs_null;
            Datum sid = SPI_getbinval(table->vals[i], table->tupdesc, 1, &stream_null);
            Datum version = SPI_getbinval(table->vals[i], table->tupdesc, 2, &version_null);
            Datum digest = SPI_getbinval(table->vals[i], table->tupdesc, 3, &digest_null);
            Datum rs = SPI_getbinval(table->vals[i], table->tupdesc, 4, &rs_null);
            if (stream_null || version_null || rs_null)
                continue;
            text *stream = DatumGetTextPP(sid);
            Redacted *r = find_redacted(index, VARDATA_ANY(stream), (int)VARSIZE_ANY_EXHDR(stream),
                                        DatumGetInt64(version));
            if (r == NULL)
                continue; /* not redacted: check_unredacted's */
            char *name = TextDatumGetCString(rs);
            int rank = receipt_rank(r, name, current);
            if (r->has_receipt && rank <= r->rank)
                continue; /* first of equals: every's statement orders them */
            r->has_receipt = true;
            r->rank = rank;
            r->receipt = name;
            text *want = digest_null ? NULL : DatumGetTextPP(digest);
            if (want != NULL && VARSIZE_ANY_EXHDR(want) == EVENTS_HASH_LEN * 2)
            {
                memcpy(r->want, VARDATA_ANY(want), EVENTS_HASH_LEN * 2);
                r->want[EVENTS_HASH_LEN * 2] = '\0';
            }
            else
                r->want[0] = '\0';
        }
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);
}

void check_receipts(EventsReport *out, List *redacted, HTAB *index, text *stream_id, const ReceiptStreams *set)
{
    if (redacted == NIL)
        return;
    static const Oid types[2] = {TEXTOID, TEXTOID};
    Datum args[2] = {stream_id ? PointerGetDatum(stream_id) : (Datum)0, (Datum)0};
    char nulls[2] = {stream_id ? ' ' : 'n', 'n'};
    if (set->every)
    {
        /* $2: the stream's receipt stream now (a cluster's one stream), ordered first. */
        if (set->current)
        {
            args[1] = CStringGetTextDatum(set->current);
            nulls[1] = ' ';
        }
        take_receipts(pg::spi::kept_plan(&receipt_digests_all_cluster_plan, RECEIPT_DIGESTS_ALL_CLUSTER_SQL, 2, types),
                      args, nulls, index, set->current);
    }
    else
    {
        ListCell *lc;
        foreach (lc, set->names)
        {
            args[1] = CStringGetTextDatum((const char *)lfirst(lc));
            nulls[1] = ' ';
            take_receipts(pg::spi::kept_plan(&receipt_digests_plan, RECEIPT_DIGESTS_SQL, 2, types), args, nulls,
                          index, set->current);
        }
    }
    ListCell *lc;
    foreach (lc, redacted)
    {
        CHECK_FOR_INTERRUPTS();
        Redacted *r = (Redacted *)lfirst(lc);
        if (r->has_receipt)
        {
            if (strcmp(r->want, r->hex) != 0)
                report(out, r->stream, r->stream_len, r->version,
                       psprintf("content differs from what its redaction left (receipt in stream %s)", r->receipt));
            continue;
        }
        /* Where its receipt should be: the streams its register row
         * records, or else its stream's receipt stream now. */
        List *where = r->recorded;
        if (where == NIL)
        {
            char *now = set->current;
            if (!events_distributed())
                now = pstrdup(EVENT_RECEIPTS_STREAM);
            else if (stream_id == NULL)
                now = events_receipts_stream(
                    (text *)cstring_to_text_with_len(r->stream, r->stream_len));
            if (now)
                where = list_make1(now);
        }
        report(out, r->stream, r->stream_len, r->version,
               psprintf("redacted without a receipt in %s: original_digest was set without chronicle.redact",
                        streams_phrase(where)));
    }
}

/* A row of the unredacted statements: an event, a receipt stream naming it. */
struct Unredacted
{
    char *stream;
    int64 version;
    char *receipts;
};

int cmp_unredacted(const ListCell *a, const ListCell *b)
{
    const Unredacted *x = (const Unredacted *)lfirst(a);
    const Unredacted *y = (const Unredacted *)lfirst(b);
    int c = strcmp(x->stream, y->stream);
    if (c != 0)
        return c;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->receipts, y->receipts);
}

void take_unredacted(SPIPlanPtr plan, Datum *args, const char *nulls, List **rows)
{
    if (pg::spi::execute_plan(plan, args, nulls, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the erasure receipts failed");
    SPITupleTable *table = SPI_tuptable;
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        bool isnull;
        Unredacted *u = (Unredacted *)palloc(sizeof(Unredacted));
        u->stream = TextDatumGetCString(SPI_getbinval(table->vals[i], table->tupdesc, 1, &isnull));
        u->version = DatumGetInt64(SPI_getbinval(table->vals[i], table->tupdesc, 2, &isnull));
        u->receipts = TextDatumGetCString(SPI_getbinval(table->vals[i], table->tupdesc, 3, &isnull));
        *rows = lappend(*rows, u);
    }
    SPI_freetuptable(table);
}

void check_unredacted(EventsReport *out, text *stream_id, const ReceiptStreams *set)
{
    List *rows = NIL;
    static const Oid types[2] = {TEXTOID, TEXTOID};
    Datum args[2] = {stream_id ? PointerGetDatum(stream_id) : (Datum)0, (Datum)0};
    char nulls[2] = {stream_id ? ' ' : 'n', 'n'};
    if (set->every)
        take_unredacted(pg::spi::kept_plan(&unredacted_all_cluster_plan, UNREDACTED_ALL_CLUSTER_SQL, 1, types), args,
                        nulls, &rows);
    else
    {
        bool cluster = events_distributed();
        ListCell *lc;
        foreach (lc, set->names)
        {
            args[1] = CStringGetTextDatum((const char *)lfirst(lc));
            nulls[1] = ' ';
            take_unredacted(cluster ? pg::spi::kept_plan(&unredacted_one_cluster_plan, UNREDACTED_ONE_CLUSTER_SQL, 2,
                                                         types)
                                    : pg::spi::kept_plan(&unredacted_plan, UNREDACTED_SQL, 2, types),
                            args, nulls, &rows);
        }
    }
    list_sort(rows, cmp_unredacted);
    /* One problem per event, naming every receipt stream that says it was redacted. */
    ListCell *lc;
    List *names = NIL;
    foreach (lc, rows)
    {
        Unredacted *u = (Unredacted *)lfirst(lc);
        add_name(&names, u->receipts);
        ListCell *next = lnext(rows, lc);
        Unredacted *n = next ? (Unredacted *)lfirst(next) : NULL;
        if (n && strcmp(n->stream, u->stream) == 0 && n->version == u->version)
            continue;
        report(out, u->stream, (int)strlen(u->stream), u->version,
               psprintf("no original_digest, but %s %s %s it was redacted (its content put back?)",
                        list_length(names) == 1 ? "a receipt in" : "receipts in", streams_phrase(names),
                        list_length(names) == 1 ? "says" : "say"));
        names = NIL;
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
        if (!v1)
        {
            HTAB *index = walk.redacted != NIL ? index_redacted(walk.redacted) : NULL;
            ReceiptStreams set = choose_streams(stream_id, index);
            check_receipts(out, walk.redacted, index, stream_id, &set);
            check_unredacted(out, stream_id, &set);
            /*
             * One stream's redacted events were checked against receipts of
             * other streams: their chains are walked too (their problems
             * reported under their names), or a receipt edited with the
             * event it describes would pass where verify() of all reports
             * it.  On a cluster: the receipt streams read for it (recorded
             * and now; with every one read, the stream's receipt stream now:
             * one a shard split left elsewhere is walked by verify() of all).
             */
            if (one && walk.redacted != NIL &&
                !event_row_is_receipt(VARDATA_ANY(stream_id), VARSIZE_ANY_EXHDR(stream_id)))
            {
                List *names = set.every ? (set.current ? list_make1(set.current) : NIL) : set.names;
                ListCell *lc;
                foreach (lc, names)
                {
                    Datum receipts[1] = {CStringGetTextDatum((const char *)lfirst(lc))};
                    Walk receipts_walk;
                    memset(&receipts_walk, 0, sizeof(receipts_walk));
                    walk_scan(out, scan, receipts, keep, v1, &receipts_walk);
                }
            }
            if (index)
                hash_destroy(index);
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
