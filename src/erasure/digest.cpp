/*
 * digest.cpp: ledger digests (docs/design/erasure.md).
 *
 *   position   the read_all horizon when the digest was taken:
 *              pg_snapshot_xmin(pg_current_snapshot()).  Every transaction
 *              below it had ended, so the set of events with tx_id below it
 *              is final: the digest covers, per stream, the events up to the
 *              highest version appended by such a transaction (a version is
 *              written only after the one before it committed, so that
 *              prefix is final too).
 *   heads      per covered stream, in byte order of stream_id:
 *              u32 length, stream_id bytes, i64 head version, 32-byte head hash
 *   root       sha256(heads), hex
 *
 * digest() reads the heads' stored hashes; verify_digest(d) recomputes every
 * chain from the events themselves (chain v2, hash.cpp), so a log whose rows
 * and hashes were rewritten consistently still fails it.  When the root
 * differs, the heads recorded with the digest in chronicle.digests (trusted
 * only if their SHA-256 is the digest's root) name the streams that changed.
 */
#include "events/events.h"
#include "pg/boundary.h"
#include "pg/citus.h"
#include "pg/owner.h"
#include "pg/spi.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"
}

namespace {

SPIPlanPtr horizon_plan;
SPIPlanPtr heads_plan;
SPIPlanPtr record_plan;
SPIPlanPtr scan_plan;
SPIPlanPtr stored_plan;

const char *const HORIZON_SQL =
    "SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())";
/* Rows of the covered prefixes' candidates: every event below the horizon. */
const char *const HEADS_SQL =
    "SELECT e.stream_id, e.version, e.hash, e.global_position FROM chronicle.events e "
    "WHERE e.tx_id OPERATOR(pg_catalog.<) $1 ORDER BY e.stream_id, e.version";
const char *const RECORD_SQL =
    "INSERT INTO chronicle.digests (taken_at, position, global_position, streams, events, root, heads) "
    "VALUES (pg_catalog.statement_timestamp(), $1, $2, $3, $4, $5, $6)";
/*
 * On a Citus cluster chronicle.digests is a reference table written from the
 * worker whose log the digest covers, and each node's identity sequence
 * counts from 1: the id is the node's group in the top 16 bits, then the
 * node's sequence, so the nodes' ids never collide.
 */
const char *const RECORD_NODE_SQL =
    "INSERT INTO chronicle.digests (digest_id, taken_at, position, global_position, streams, events, root, heads) "
    "OVERRIDING SYSTEM VALUE VALUES (($7::pg_catalog.int8 OPERATOR(pg_catalog.<<) 48) OPERATOR(pg_catalog.+) "
    "pg_catalog.nextval(pg_catalog.pg_get_serial_sequence('chronicle.digests', 'digest_id')), "
    "pg_catalog.statement_timestamp(), $1, $2, $3, $4, $5, $6)";
SPIPlanPtr record_node_plan;
/* verify()'s scan rows (events.h, EVENTS_SCAN_*), every event. */
const char *const SCAN_SQL = EVENTS_SCAN_REDACTED "ORDER BY e.stream_id, e.version";
const char *const STORED_SQL =
    "SELECT d.heads FROM chronicle.digests d WHERE d.root OPERATOR(pg_catalog.=) $1 "
    "AND d.position OPERATOR(pg_catalog.=) $2 ORDER BY d.digest_id DESC LIMIT 1";

/* One stream's head. */
struct Head
{
    char *stream;
    int stream_len;
    int64 version;
    uint8 hash[EVENTS_HASH_LEN];
};

struct Heads
{
    Head *items;
    int n;
    int cap;
    int64 events;
    int64 max_position; /* recompute_heads: the highest global_position covered */
};

Head *heads_add(Heads *h, const char *stream, int len)
{
    if (h->n == h->cap)
    {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->items = h->items ? (Head *)repalloc_huge(h->items, sizeof(Head) * (Size)h->cap)
                            : (Head *)palloc_extended(sizeof(Head) * (Size)h->cap, MCXT_ALLOC_HUGE);
    }
    Head *e = &h->items[h->n++];
    e->stream = (char *)palloc(len + 1);
    memcpy(e->stream, stream, len);
    e->stream[len] = '\0';
    e->stream_len = len;
    e->version = 0;
    return e;
}

int stream_cmp(const char *a, int alen, const char *b, int blen)
{
    int c = memcmp(a, b, Min(alen, blen));
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

int head_cmp(const void *x, const void *y)
{
    const Head *a = (const Head *)x;
    const Head *b = (const Head *)y;
    return stream_cmp(a->stream, a->stream_len, b->stream, b->stream_len);
}

void put_u32(StringInfo buf, uint32 v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    appendBinaryStringInfo(buf, (const char *)b, 4);
}

/* Sort the heads (byte order of stream_id) and encode them; the caller hashes. */
void heads_encode(Heads *h, StringInfo out)
{
    if (h->n > 1)
        qsort(h->items, h->n, sizeof(Head), head_cmp);
    initStringInfo(out);
    for (int i = 0; i < h->n; i++)
    {
        Head *e = &h->items[i];
        put_u32(out, (uint32)e->stream_len);
        appendBinaryStringInfo(out, e->stream, e->stream_len);
        put_u32(out, (uint32)((uint64)e->version >> 32));
        put_u32(out, (uint32)e->version);
        appendBinaryStringInfo(out, (const char *)e->hash, EVENTS_HASH_LEN);
    }
}

/* Decode recorded heads; false when the bytes are not a well-formed list. */
bool heads_decode(const char *p, Size len, Heads *out)
{
    Size at = 0;
    auto u32 = [&](Size i) {
        const unsigned char *b = (const unsigned char *)p + i;
        return ((uint32)b[0] << 24) | ((uint32)b[1] << 16) | ((uint32)b[2] << 8) | b[3];
    };
    while (at < len)
    {
        if (len - at < 4)
            return false;
        uint32 slen = u32(at);
        at += 4;
        if (len - at < (Size)slen + 8 + EVENTS_HASH_LEN)
            return false;
        Head *e = heads_add(out, p + at, (int)slen);
        at += slen;
        e->version = (int64)(((uint64)u32(at) << 32) | u32(at + 4));
        at += 8;
        memcpy(e->hash, p + at, EVENTS_HASH_LEN);
        at += EVENTS_HASH_LEN;
        out->events += e->version;
    }
    return true;
}

char *hex(const uint8 *bytes, int n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = (char *)palloc(n * 2 + 1);
    for (int i = 0; i < n; i++)
    {
        s[2 * i] = digits[bytes[i] >> 4];
        s[2 * i + 1] = digits[bytes[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

void jsonb_put(JsonbParseState **state, const char *key, JsonbValue *value)
{
    JsonbValue k;
    k.type = jbvString;
    k.val.string.val = (char *)key;
    k.val.string.len = (int)strlen(key);
    pushJsonbValue(state, WJB_KEY, &k);
    pushJsonbValue(state, WJB_VALUE, value);
}

void jsonb_put_int(JsonbParseState **state, const char *key, int64 n)
{
    JsonbValue v;
    v.type = jbvNumeric;
    v.val.numeric = int64_to_numeric(n);
    jsonb_put(state, key, &v);
}

void jsonb_put_uint(JsonbParseState **state, const char *key, uint64 n)
{
    JsonbValue v;
    v.type = jbvNumeric;
    v.val.numeric = DatumGetNumeric(
        DirectFunctionCall3(numeric_in, CStringGetDatum(psprintf(UINT64_FORMAT, n)),
                            ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
    jsonb_put(state, key, &v);
}

/* A member of the digest argument, or NULL. */
JsonbValue *member(Jsonb *d, const char *key)
{
    JsonbValue k;
    k.type = jbvString;
    k.val.string.val = (char *)key;
    k.val.string.len = (int)strlen(key);
    return findJsonbValueFromContainer(&d->root, JB_FOBJECT, &k);
}

/*
 * A digest covers one log's horizon: on Citus each node has its own
 * (docs/design/citus.md), so a digest is taken and verified on a node
 * holding shards, of that node's log, and names the node ("node", its Citus
 * group id).  Returns whether the store is distributed; 0A000 on a node
 * holding no shard (the coordinator).
 */
bool node_log_here(const char *function)
{
    if (!events_distributed())
        return false;
    Oid events = get_relname_relid("events", get_namespace_oid("chronicle", false));
    if (pg::citus::local_shards_from_item(events) == NULL)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s covers one node's log, and this node holds no shard of chronicle.events", function),
                        errdetail("On a Citus cluster each node has a log of its own, ordered by that node's "
                                  "transaction ids; a digest covers one log's horizon."),
                        errhint("Take and verify a digest on each node holding shards: SELECT node, host, port "
                                "FROM chronicle._log_nodes().")));
    return true;
}

/* The plan of a log statement: over this node's shards on a cluster (not kept: shards move). */
SPIPlanPtr log_plan(SPIPlanPtr *kept, const char *sql, int nargs, const Oid *types, bool distributed)
{
    if (!distributed)
        return pg::spi::kept_plan(kept, sql, nargs, types);
    return pg::spi::prepare(events_node_log_sql(sql), nargs, types);
}

pg_attribute_noreturn() void bad_digest(const char *why)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("invalid digest: %s", why),
                    errhint("Pass the JSON value chronicle.digest() returned, unchanged.")));
}

uint64 member_uint(Jsonb *d, const char *key)
{
    JsonbValue *v = member(d, key);
    if (v == NULL || v->type != jbvNumeric)
        bad_digest(psprintf("\"%s\" must be a number", key));
    char *s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9')
            bad_digest(psprintf("\"%s\" must be a whole number of at least 0", key));
    if (strlen(s) > 20)
        bad_digest(psprintf("\"%s\" is out of range", key));
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        bad_digest(psprintf("\"%s\" is out of range", key));
    return (uint64)n;
}

int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*
 * Recompute every stream's head as of horizon from the events (chain v2,
 * previous link recomputed too).  SPI connected.
 */
void recompute_heads(uint64 horizon, Heads *out, bool distributed)
{
    SPIPlanPtr plan = log_plan(&scan_plan, SCAN_SQL, 0, NULL, distributed);
    Portal cursor = pg::spi::cursor_open(NULL, plan, NULL, NULL, true);
    MemoryContext keep = CurrentMemoryContext;
    MemoryContext rows = AllocSetContextCreate(keep, "chronicle digest rows", ALLOCSET_DEFAULT_SIZES);
    char *stream = NULL;
    int stream_len = 0;
    uint8 prev[EVENTS_HASH_LEN];
    size_t prev_len = 0;
    Head *current = NULL;
    while (pg::spi::fetch_batch(cursor, 1000))
    {
        SPITupleTable *table = SPI_tuptable;
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            HeapTuple row = table->vals[i];
            bool isnull;
            text *sid = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 1, &isnull));
            int slen = VARSIZE_ANY_EXHDR(sid);
            if (stream == NULL || slen != stream_len || memcmp(VARDATA_ANY(sid), stream, slen) != 0)
            {
                MemoryContext old = MemoryContextSwitchTo(keep);
                stream = pnstrdup(VARDATA_ANY(sid), slen);
                MemoryContextSwitchTo(old);
                stream_len = slen;
                prev_len = 0;
                current = NULL;
            }
            MemoryContext old = MemoryContextSwitchTo(rows);
            uint8 link[EVENTS_HASH_LEN];
            events_scan_hash(prev, prev_len, row, table->tupdesc, link);
            uint64 tx = U64FromFullTransactionId(DatumGetFullTransactionId(
                SPI_getbinval(row, table->tupdesc, EVENTS_SCAN_TX, &isnull)));
            int64 version = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 2, &isnull));
            MemoryContextSwitchTo(old);
            MemoryContextReset(rows);
            memcpy(prev, link, EVENTS_HASH_LEN);
            prev_len = EVENTS_HASH_LEN;
            if (tx < horizon)
            {
                if (current == NULL)
                {
                    MemoryContext o = MemoryContextSwitchTo(keep);
                    current = heads_add(out, stream, stream_len);
                    MemoryContextSwitchTo(o);
                }
                out->events += version - current->version;
                out->max_position = Max(out->max_position,
                                        DatumGetInt64(SPI_getbinval(row, table->tupdesc, EVENTS_SCAN_POSITION, &isnull)));
                current->version = version;
                memcpy(current->hash, link, EVENTS_HASH_LEN);
            }
        }
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);
}

void report(Tuplestorestate *store, TupleDesc desc, const Head *h, int64 version, const char *problem)
{
    Datum values[3] = {h ? PointerGetDatum(cstring_to_text_with_len(h->stream, h->stream_len)) : (Datum)0,
                       Int64GetDatum(version), CStringGetTextDatum(problem)};
    bool nulls[3] = {h == NULL, h == NULL, false};
    tuplestore_putvalues(store, desc, values, nulls);
}

} // namespace

SQL_FUNCTION(chronicle_digest)
{
    bool distributed = node_log_here("chronicle.digest()");
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    if (pg::spi::execute_plan(pg::spi::kept_plan(&horizon_plan, HORIZON_SQL, 0, NULL), NULL, NULL, true, 1) !=
            SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "chronicle: reading the snapshot's horizon failed");
    bool isnull;
    Datum horizon_datum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    uint64 horizon = U64FromFullTransactionId(DatumGetFullTransactionId(horizon_datum));

    static const Oid heads_types[1] = {XID8OID};
    Datum heads_args[1] = {horizon_datum};
    Portal cursor = pg::spi::cursor_open(NULL, log_plan(&heads_plan, HEADS_SQL, 1, heads_types, distributed),
                                         heads_args, NULL, true);
    MemoryContext keep = CurrentMemoryContext;
    Heads heads = {NULL, 0, 0, 0, 0};
    int64 max_position = 0;
    while (pg::spi::fetch_batch(cursor, 5000))
    {
        SPITupleTable *table = SPI_tuptable;
        MemoryContext old = MemoryContextSwitchTo(keep);
        for (uint64 i = 0; i < SPI_processed; i++)
        {
            HeapTuple row = table->vals[i];
            text *sid = DatumGetTextPP(SPI_getbinval(row, table->tupdesc, 1, &isnull));
            int slen = VARSIZE_ANY_EXHDR(sid);
            Head *last = heads.n > 0 ? &heads.items[heads.n - 1] : NULL;
            if (last == NULL || last->stream_len != slen || memcmp(last->stream, VARDATA_ANY(sid), slen) != 0)
                last = heads_add(&heads, VARDATA_ANY(sid), slen);
            int64 version = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 2, &isnull));
            bytea *h = DatumGetByteaPP(SPI_getbinval(row, table->tupdesc, 3, &isnull));
            heads.events += version - last->version;
            last->version = version;
            memset(last->hash, 0, EVENTS_HASH_LEN);
            memcpy(last->hash, VARDATA_ANY(h), Min(VARSIZE_ANY_EXHDR(h), EVENTS_HASH_LEN));
            int64 position = DatumGetInt64(SPI_getbinval(row, table->tupdesc, 4, &isnull));
            max_position = Max(max_position, position);
        }
        MemoryContextSwitchTo(old);
        SPI_freetuptable(table);
    }
    SPI_cursor_close(cursor);

    StringInfoData encoded;
    heads_encode(&heads, &encoded);
    uint8 root[EVENTS_HASH_LEN];
    events_sha256(encoded.data, encoded.len, root);

    if (!RecoveryInProgress())
    {
        Oid saved_user;
        int saved_context;
        GetUserIdAndSecContext(&saved_user, &saved_context);
        SetUserIdAndSecContext(pg::function_owner(fcinfo), saved_context | SECURITY_LOCAL_USERID_CHANGE);
        bytea *root_bytes = (bytea *)palloc(VARHDRSZ + EVENTS_HASH_LEN);
        SET_VARSIZE(root_bytes, VARHDRSZ + EVENTS_HASH_LEN);
        memcpy(VARDATA(root_bytes), root, EVENTS_HASH_LEN);
        bytea *heads_bytes = (bytea *)palloc_extended(VARHDRSZ + encoded.len, MCXT_ALLOC_HUGE);
        SET_VARSIZE(heads_bytes, VARHDRSZ + encoded.len);
        memcpy(VARDATA(heads_bytes), encoded.data, encoded.len);
        static const Oid types[7] = {XID8OID, INT8OID, INT8OID, INT8OID, BYTEAOID, BYTEAOID, INT4OID};
        Datum args[7] = {horizon_datum, Int64GetDatum(max_position), Int64GetDatum(heads.n),
                         Int64GetDatum(heads.events), PointerGetDatum(root_bytes),
                         PointerGetDatum(heads_bytes), Int32GetDatum(distributed ? pg::citus::local_group() : 0)};
        SPIPlanPtr plan = distributed ? pg::spi::kept_plan(&record_node_plan, RECORD_NODE_SQL, 7, types)
                                      : pg::spi::kept_plan(&record_plan, RECORD_SQL, 6, types);
        if (pg::spi::execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
            elog(ERROR, "chronicle: recording the digest failed");
        SetUserIdAndSecContext(saved_user, saved_context);
    }
    SPI_finish();

    JsonbParseState *state = NULL;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
    jsonb_put_uint(&state, "position", horizon);
    jsonb_put_int(&state, "global_position", max_position);
    jsonb_put_int(&state, "streams", heads.n);
    jsonb_put_int(&state, "events", heads.events);
    JsonbValue r;
    r.type = jbvString;
    r.val.string.val = hex(root, EVENTS_HASH_LEN);
    r.val.string.len = EVENTS_HASH_LEN * 2;
    jsonb_put(&state, "root", &r);
    if (distributed)
        jsonb_put_int(&state, "node", pg::citus::local_group());
    JsonbValue *result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
    PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}

SQL_FUNCTION(chronicle_verify_digest)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("digest must not be NULL")));
    bool distributed = node_log_here("chronicle.verify_digest()");
    Jsonb *d = PG_GETARG_JSONB_P(0);
    if (!JB_ROOT_IS_OBJECT(d) || JB_ROOT_IS_SCALAR(d))
        bad_digest("it must be a JSON object");
    if (distributed)
    {
        if (member(d, "node") == NULL)
            bad_digest("on a Citus cluster a digest names its node (\"node\": the Citus group id of the log it covers)");
        uint64 node = member_uint(d, "node");
        if (node != (uint64)pg::citus::local_group())
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("this digest covers the log of node %llu, and this is node %d",
                                   (unsigned long long)node, pg::citus::local_group()),
                            errhint("Verify it on that node (SELECT node, host, port FROM chronicle._log_nodes()).")));
    }
    uint64 horizon = member_uint(d, "position");
    uint64 want_streams = member_uint(d, "streams");
    uint64 want_events = member_uint(d, "events");
    /* Optional (a digest rebuilt from chronicle.digests' columns may lack
     * it); when given, it must be the one the root covers. */
    bool has_position = member(d, "global_position") != NULL;
    uint64 want_position = has_position ? member_uint(d, "global_position") : 0;
    JsonbValue *root_value = member(d, "root");
    if (root_value == NULL || root_value->type != jbvString ||
        root_value->val.string.len != EVENTS_HASH_LEN * 2)
        bad_digest("\"root\" must be 64 hexadecimal digits");
    uint8 want_root[EVENTS_HASH_LEN];
    for (int i = 0; i < EVENTS_HASH_LEN; i++)
    {
        int hi = hexval(root_value->val.string.val[2 * i]);
        int lo = hexval(root_value->val.string.val[2 * i + 1]);
        if (hi < 0 || lo < 0)
            bad_digest("\"root\" must be 64 hexadecimal digits");
        want_root[i] = (uint8)(hi << 4 | lo);
    }

    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    Tuplestorestate *store = rsinfo->setResult;
    TupleDesc desc = rsinfo->setDesc;

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    Heads now = {NULL, 0, 0, 0, 0};
    recompute_heads(horizon, &now, distributed);
    StringInfoData encoded;
    heads_encode(&now, &encoded);
    uint8 root[EVENTS_HASH_LEN];
    events_sha256(encoded.data, encoded.len, root);
    if (memcmp(root, want_root, EVENTS_HASH_LEN) == 0)
    {
        if ((uint64)now.n != want_streams || (uint64)now.events != want_events)
            report(store, desc, NULL, 0,
                   psprintf("the digest's counts (%llu streams, %llu events) are not those its root "
                            "covers (%d streams, %lld events): the digest was edited",
                            (unsigned long long)want_streams, (unsigned long long)want_events, now.n,
                            (long long)now.events));
        if (has_position && (uint64)now.max_position != want_position)
            report(store, desc, NULL, 0,
                   psprintf("the digest's global_position %llu is not the one its root covers (%lld): "
                            "the digest was edited",
                            (unsigned long long)want_position, (long long)now.max_position));
        SPI_finish();
        return (Datum)0;
    }

    /* The root differs: name the streams, with the heads recorded for this digest. */
    bytea *root_bytes = (bytea *)palloc(VARHDRSZ + EVENTS_HASH_LEN);
    SET_VARSIZE(root_bytes, VARHDRSZ + EVENTS_HASH_LEN);
    memcpy(VARDATA(root_bytes), want_root, EVENTS_HASH_LEN);
    static const Oid types[2] = {BYTEAOID, XID8OID};
    Datum args[2] = {PointerGetDatum(root_bytes),
                     FullTransactionIdGetDatum(FullTransactionIdFromU64(horizon))};
    if (pg::spi::execute_plan(pg::spi::kept_plan(&stored_plan, STORED_SQL, 2, types), args, NULL, true, 1) !=
        SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle.digests failed");
    Heads then = {NULL, 0, 0, 0, 0};
    bool known = false;
    if (SPI_processed == 1)
    {
        bool isnull;
        bytea *stored = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        uint8 check[EVENTS_HASH_LEN];
        events_sha256(VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored), check);
        known = memcmp(check, want_root, EVENTS_HASH_LEN) == 0 &&
                heads_decode(VARDATA_ANY(stored), VARSIZE_ANY_EXHDR(stored), &then);
    }
    if (!known)
    {
        report(store, desc, NULL, 0,
               psprintf("the log as of this digest's position has root %s, not the digest's: history "
                        "was changed, shortened or removed (the streams cannot be named: this digest's "
                        "heads are not recorded in chronicle.digests); run chronicle.verify()",
                        hex(root, EVENTS_HASH_LEN)));
        SPI_finish();
        return (Datum)0;
    }
    /* Both lists are in byte order of stream_id: merge them. */
    int i = 0, j = 0;
    while (i < then.n || j < now.n)
    {
        Head *a = i < then.n ? &then.items[i] : NULL;
        Head *b = j < now.n ? &now.items[j] : NULL;
        int c = a == NULL ? 1 : b == NULL ? -1 : stream_cmp(a->stream, a->stream_len, b->stream, b->stream_len);
        if (c < 0)
        {
            report(store, desc, a, a->version,
                   psprintf("removed: the digest covers versions 1..%lld, the log has none of them",
                            (long long)a->version));
            i++;
        }
        else if (c > 0)
        {
            report(store, desc, b, b->version,
                   psprintf("added: %lld events below the digest's position that it does not cover",
                            (long long)b->version));
            j++;
        }
        else
        {
            if (b->version < a->version)
                report(store, desc, a, a->version,
                       psprintf("shortened: the digest covers versions 1..%lld, the log has 1..%lld",
                                (long long)a->version, (long long)b->version));
            else if (b->version > a->version)
                report(store, desc, a, a->version,
                       psprintf("lengthened: the digest covers versions 1..%lld, the log has 1..%lld below its position",
                                (long long)a->version, (long long)b->version));
            else if (memcmp(a->hash, b->hash, EVENTS_HASH_LEN) != 0)
                report(store, desc, a, a->version,
                       psprintf("changed: versions 1..%lld no longer hash to the digest's head",
                                (long long)a->version));
            i++;
            j++;
        }
    }
    SPI_finish();
    return (Datum)0;
}
