/*
 * redact.cpp: chronicle.redact and chronicle.redact_tagged
 * (docs/reference/erasure.md; docs/design/erasure.md).
 *
 * src/erasure is C-style (pg/boundary.h): this file, digest.cpp and
 * rechain.cpp own no C++ object with a destructor, so any PostgreSQL call in
 * them may ereport.  The module has no header: its files share nothing, and
 * each is reached only through its SQL functions.
 *
 * For each chosen event, under the lock of its stream's row (the lock an
 * append takes, so a redaction and an append to the same stream serialise):
 *   1. the paths to remove: the caller's ("a.b": key a, then key b; removed
 *      from data and from metadata), or with none given the values of data
 *      the event type's schema (of the event's stored type_version) marks
 *      "x-personal": true, through properties, items, allOf, anyOf, oneOf
 *      and $ref (types_personal_paths), or all of data and metadata when
 *      the type has no schema;
 *   2. nothing to remove: the event is left alone (not counted);
 *   3. the row is updated under a one-row permit (events_permit_set), the
 *      only update the immutability trigger lets through: data and metadata
 *      become the redacted ones, and at the event's first redaction
 *      original_digest becomes the digest of its content as appended, which
 *      its chain link commits to (so the link still verifies, from the row
 *      alone); chronicle.erasures records the paths removed.
 * Then, in the same transaction: the streams' snapshots are deleted, their
 * projection rows recomputed (the append observers, as for an append of the
 * whole stream), every backend's remembered reducer states dropped (a
 * relcache invalidation of chronicle.erasures), and a receipt appended to
 * stream chronicle-erasures: who, when, why, which events and paths, never a
 * value.
 *
 * Writes run with the rights of the function's owner, like append's; only
 * chronicle_admin may call the functions (src/privileges.sql).
 */
#include "events/events.h"
#include "events/observers.h"
#include "pg/boundary.h"
#include "pg/citus.h"
#include "pg/owner.h"
#include "pg/spi.h"
#include "types/types.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
}

#define ERASURES_STREAM "chronicle-erasures"

namespace {

SPIPlanPtr lock_plan;
SPIPlanPtr tagged_streams_plan;
SPIPlanPtr events_plan;
SPIPlanPtr tagged_events_plan;
SPIPlanPtr keep_plan;
SPIPlanPtr update_plan;
SPIPlanPtr snapshots_plan;
SPIPlanPtr receipt_plan;

const char *const LOCK_SQL =
    "SELECT s.version FROM chronicle.streams s WHERE s.stream_id OPERATOR(pg_catalog.=) $1 FOR UPDATE";
const char *const TAGGED_STREAMS_SQL =
    "SELECT DISTINCT e.stream_id FROM chronicle.events e "
    "WHERE e.tags OPERATOR(pg_catalog.@>) ARRAY[$1]::pg_catalog.text[] ORDER BY 1";
const char *const EVENTS_SQL =
    "SELECT e.version, e.event_id, e.type, e.type_version, e.data, e.metadata, e.original_digest "
    "FROM chronicle.events e WHERE e.stream_id OPERATOR(pg_catalog.=) $1 "
    "AND ($2 IS NULL OR e.version OPERATOR(pg_catalog.=) $2) ORDER BY e.version";
const char *const TAGGED_EVENTS_SQL =
    "SELECT e.version, e.event_id, e.type, e.type_version, e.data, e.metadata, e.original_digest "
    "FROM chronicle.events e WHERE e.stream_id OPERATOR(pg_catalog.=) $1 "
    "AND e.tags OPERATOR(pg_catalog.@>) ARRAY[$2]::pg_catalog.text[] ORDER BY e.version";
/*
 * The register: one row per redacted event, the paths removed so far (NULL:
 * all), and the receipt streams holding its receipts, this redaction's ($5)
 * last (verify(stream) reads those: on a cluster a shard split gives a
 * stream's later receipts another receipt stream).
 */
const char *const KEEP_SQL =
    "INSERT INTO chronicle.erasures AS r (stream_id, version, event_id, paths, redacted_at, receipt_streams) "
    "VALUES ($1, $2, $3, $4, pg_catalog.statement_timestamp(), ARRAY[$5]) "
    "ON CONFLICT (stream_id, version) DO UPDATE SET paths = CASE WHEN r.paths IS NULL OR excluded.paths IS NULL "
    "THEN NULL ELSE r.paths OPERATOR(pg_catalog.||) excluded.paths END, redacted_at = excluded.redacted_at, "
    "redactions = r.redactions OPERATOR(pg_catalog.+) 1, "
    "receipt_streams = pg_catalog.array_append(pg_catalog.array_remove(r.receipt_streams, $5), $5)";
const char *const UPDATE_SQL =
    "UPDATE chronicle.events e SET data = $3, metadata = $4, original_digest = $5 "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 AND e.version OPERATOR(pg_catalog.=) $2";
const char *const SNAPSHOTS_SQL =
    "DELETE FROM chronicle.snapshots s WHERE s.stream_id OPERATOR(pg_catalog.=) $1";
/* $2: the receipt stream (events_receipts_stream: one per shard group on a cluster). */
const char *const RECEIPT_SQL = "SELECT chronicle.append($2, 'EventsRedacted', $1)";

/* What the caller asked for, and what was done (for the receipt). */
struct Request
{
    Datum *paths; /* text[] per given path, or NULL: schema rule */
    char **path_texts;
    int npaths;
    const char *reason;
    const char *tag;
    const char *receipts; /* the stream the receipt goes to */
    JsonbParseState *events; /* the receipt's "events" array, being built */
    int64 changed;
    int64 snapshots_deleted;
    AppendedEvents *appended; /* streams changed, for the observers */
    int nappended;
};

/*
 * After SPI_finish: each changed stream's projection rows recomputed as after
 * an append of the whole stream (the observers replay it from version 1: its
 * snapshots are gone and the remembered states were dropped).
 */
void recompute(const Request *req)
{
    for (int i = 0; i < req->nappended; i++)
        events_notify_observers(&req->appended[i]);
}

/* One dotted path as a text[] for jsonb's #- (jsonb_delete_path). */
Datum path_array(const char *path)
{
    int n = 1;
    for (const char *c = path; *c; c++)
        n += *c == '.';
    Datum *parts = (Datum *)palloc(sizeof(Datum) * n);
    const char *start = path;
    int i = 0;
    for (const char *c = path;; c++)
        if (*c == '.' || *c == '\0')
        {
            if (c == start)
                ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                                errmsg("invalid path \"%s\": empty key", path),
                                errhint("A path is keys separated by dots, e.g. \"address.street\".")));
            parts[i++] = PointerGetDatum(cstring_to_text_with_len(start, (int)(c - start)));
            if (*c == '\0')
                break;
            start = c + 1;
        }
    return PointerGetDatum(construct_array(parts, n, TEXTOID, -1, false, TYPALIGN_INT));
}

void parse_paths(ArrayType *array, Request *req)
{
    Datum *elems;
    bool *nulls;
    int n;
    if (ARR_NDIM(array) > 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("paths must be a one-dimensional array")));
    deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
    if (n == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("paths must not be empty"),
                        errhint("Pass NULL to remove the schema's \"x-personal\" properties (or everything).")));
    req->paths = (Datum *)palloc(sizeof(Datum) * n);
    req->path_texts = (char **)palloc(sizeof(char *) * n);
    for (int i = 0; i < n; i++)
    {
        if (nulls[i])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("paths must not contain NULL")));
        req->path_texts[i] = TextDatumGetCString(elems[i]);
        if (strlen(req->path_texts[i]) > 1000)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("a path is at most 1000 bytes")));
        req->paths[i] = path_array(req->path_texts[i]);
    }
    req->npaths = n;
}

/* A personal path for the receipt: keys joined by dots, "*" for an array's element. */
char *personal_path_text(const TypesPersonalPath *path)
{
    StringInfoData buf;
    initStringInfo(&buf);
    if (path->nsteps == 0)
        appendStringInfoChar(&buf, '*');
    for (int i = 0; i < path->nsteps; i++)
    {
        if (i > 0)
            appendStringInfoChar(&buf, '.');
        if (path->steps[i].key)
            appendBinaryStringInfo(&buf, path->steps[i].key, path->steps[i].key_len);
        else
            appendStringInfoChar(&buf, '*');
    }
    return buf.data;
}

/* A personal path as the text[] of jsonb's #- (an array's element by its index). */
Datum steps_array(const TypesPersonalPath *path)
{
    Datum *parts = (Datum *)palloc(sizeof(Datum) * Max(path->nsteps, 1));
    for (int i = 0; i < path->nsteps; i++)
        parts[i] = path->steps[i].key
                       ? PointerGetDatum(cstring_to_text_with_len(path->steps[i].key, path->steps[i].key_len))
                       : CStringGetTextDatum(psprintf("%d", path->steps[i].index));
    return PointerGetDatum(construct_array(parts, path->nsteps, TEXTOID, -1, false, TYPALIGN_INT));
}

Jsonb *empty_object(void)
{
    return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

Jsonb *remove_path(Jsonb *value, Datum path)
{
    return DatumGetJsonbP(DirectFunctionCall2(jsonb_delete_path, JsonbPGetDatum(value), path));
}

bool same_jsonb(Jsonb *a, Jsonb *b)
{
    return DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

void push_string(JsonbParseState **state, JsonbIteratorToken tok, const char *s)
{
    JsonbValue v;
    v.type = jbvString;
    v.val.string.val = (char *)s;
    v.val.string.len = (int)strlen(s);
    pushJsonbValue(state, tok, &v);
}

void push_key_string(JsonbParseState **state, const char *key, const char *s)
{
    push_string(state, WJB_KEY, key);
    if (s == NULL)
    {
        JsonbValue v;
        v.type = jbvNull;
        pushJsonbValue(state, WJB_VALUE, &v);
    }
    else
        push_string(state, WJB_VALUE, s);
}

void push_key_int(JsonbParseState **state, const char *key, int64 n)
{
    push_string(state, WJB_KEY, key);
    JsonbValue v;
    v.type = jbvNumeric;
    v.val.numeric = int64_to_numeric(n);
    pushJsonbValue(state, WJB_VALUE, &v);
}

bytea *to_bytea(const uint8 *bytes)
{
    bytea *b = (bytea *)palloc(VARHDRSZ + EVENTS_HASH_LEN);
    SET_VARSIZE(b, VARHDRSZ + EVENTS_HASH_LEN);
    memcpy(VARDATA(b), bytes, EVENTS_HASH_LEN);
    return b;
}

/* Redact one event row of the events query (SPI connected, stream locked). */
void redact_row(Request *req, text *stream, HeapTuple row, TupleDesc desc)
{
    bool isnull;
    int64 version = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
    Datum event_id = SPI_getbinval(row, desc, 2, &isnull);
    Datum type = SPI_getbinval(row, desc, 3, &isnull);
    Datum type_version = SPI_getbinval(row, desc, 4, &isnull);
    Jsonb *data = DatumGetJsonbP(SPI_getbinval(row, desc, 5, &isnull));
    Jsonb *metadata = DatumGetJsonbP(SPI_getbinval(row, desc, 6, &isnull));
    bytea *original = DatumGetByteaPP(SPI_getbinval(row, desc, 7, &isnull));

    Jsonb *new_data = data;
    Jsonb *new_metadata = metadata;
    List *removed = NIL; /* dotted paths, for the receipt */
    const char *rule;
    if (req->paths)
    {
        rule = "paths";
        for (int i = 0; i < req->npaths; i++)
        {
            Jsonb *d = remove_path(new_data, req->paths[i]);
            Jsonb *m = remove_path(new_metadata, req->paths[i]);
            if (!same_jsonb(d, new_data) || !same_jsonb(m, new_metadata))
                removed = lappend(removed, req->path_texts[i]);
            new_data = d;
            new_metadata = m;
        }
    }
    else
    {
        TypesPersonalPath *found;
        int nfound;
        if (types_personal_paths(TextDatumGetCString(type), DatumGetInt32(type_version), data, &found, &nfound))
        {
            rule = "x-personal";
            /* Removed last first: a path may name an array's element (an
             * array of personal arrays), and removing it shifts the later
             * ones; paths are in data order and none inside another. */
            for (int i = nfound - 1; i >= 0; i--)
                new_data = found[i].nsteps == 0 ? empty_object() : remove_path(new_data, steps_array(&found[i]));
            for (int i = 0; i < nfound; i++)
            {
                char *text = personal_path_text(&found[i]);
                ListCell *lc;
                bool seen = false;
                foreach (lc, removed)
                    seen = seen || strcmp((const char *)lfirst(lc), text) == 0;
                if (!seen)
                    removed = lappend(removed, text);
            }
        }
        else
        {
            rule = "all";
            Jsonb *empty = empty_object();
            if (!same_jsonb(data, empty) || !same_jsonb(metadata, empty))
                removed = lappend(removed, (void *)"*");
            new_data = empty;
            new_metadata = empty;
        }
    }
    if (removed == NIL)
        return;

    Datum removed_array = (Datum)0;
    {
        int n = list_length(removed);
        Datum *items = (Datum *)palloc(sizeof(Datum) * n);
        for (int i = 0; i < n; i++)
            items[i] = CStringGetTextDatum((char *)list_nth(removed, i));
        removed_array = PointerGetDatum(construct_array(items, n, TEXTOID, -1, false, TYPALIGN_INT));
    }
    bool all = strcmp(rule, "all") == 0;
    {
        static const Oid types[5] = {TEXTOID, INT8OID, UUIDOID, TEXTARRAYOID, TEXTOID};
        Datum args[5] = {PointerGetDatum(stream), Int64GetDatum(version), event_id, removed_array,
                         CStringGetTextDatum(req->receipts)};
        char nulls[5] = {' ', ' ', ' ', all ? 'n' : ' ', ' '};
        if (pg::spi::execute_plan(pg::spi::kept_plan(&keep_plan, KEEP_SQL, 5, types), args, nulls, false, 0) !=
            SPI_OK_INSERT)
            elog(ERROR, "chronicle: writing chronicle.erasures failed");
    }

    /* The content digest the chain commits to: the event's as appended,
     * computed at its first redaction and kept by the later ones (the
     * immutability trigger checks both from the old row). */
    if (VARSIZE_ANY_EXHDR(original) == 0)
    {
        uint8 content[EVENTS_HASH_LEN];
        events_content_digest(data, metadata, content);
        original = to_bytea(content);
    }
    events_permit_set(EVENTS_PERMIT_REDACT, VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream), version, new_data,
                      new_metadata, NULL);
    static const Oid types[5] = {TEXTOID, INT8OID, JSONBOID, JSONBOID, BYTEAOID};
    Datum args[5] = {PointerGetDatum(stream), Int64GetDatum(version), JsonbPGetDatum(new_data),
                     JsonbPGetDatum(new_metadata), PointerGetDatum(original)};
    int rc = pg::spi::execute_plan(pg::spi::kept_plan(&update_plan, UPDATE_SQL, 5, types), args, NULL, false, 0);
    events_permit_clear();
    if (rc != SPI_OK_UPDATE || SPI_processed != 1)
        elog(ERROR, "chronicle: redacting event %lld of stream \"%s\" failed", (long long)version,
             text_to_cstring(stream));

    /* The receipt's entry: which event, which paths; never a value. */
    pushJsonbValue(&req->events, WJB_BEGIN_OBJECT, NULL);
    push_key_string(&req->events, "stream_id", text_to_cstring(stream));
    push_key_int(&req->events, "version", version);
    push_key_string(&req->events, "event_id",
                    DatumGetCString(DirectFunctionCall1(uuid_out, event_id)));
    push_key_string(&req->events, "rule", rule);
    /* The digest of the content the redaction left, which verify() checks the
     * row against: the kept digest in chronicle.erasures is not chained, this
     * receipt is (a forged erasures row or a rewritten redacted row shows). */
    {
        uint8 after[EVENTS_HASH_LEN];
        events_content_digest(new_data, new_metadata, after);
        char hex[EVENTS_HASH_LEN * 2 + 1];
        for (int i = 0; i < EVENTS_HASH_LEN; i++)
            snprintf(hex + 2 * i, 3, "%02x", after[i]);
        push_key_string(&req->events, "content_digest", pstrdup(hex)); /* kept until the receipt is built */
    }
    push_string(&req->events, WJB_KEY, "paths");
    pushJsonbValue(&req->events, WJB_BEGIN_ARRAY, NULL);
    if (!all)
    {
        ListCell *lc;
        foreach (lc, removed)
            push_string(&req->events, WJB_ELEM, (const char *)lfirst(lc));
    }
    pushJsonbValue(&req->events, WJB_END_ARRAY, NULL);
    pushJsonbValue(&req->events, WJB_END_OBJECT, NULL);
    req->changed++;
}

/*
 * Lock the stream's row and redact its chosen events (version, or tag, or
 * all).  Returns whether any changed; false with no row when the stream
 * does not exist (*exists).
 */
bool redact_stream(Request *req, text *stream, bool has_version, int64 version, bool *exists)
{
    static const Oid lock_types[1] = {TEXTOID};
    Datum lock_args[1] = {PointerGetDatum(stream)};
    if (pg::spi::execute_plan(pg::spi::kept_plan(&lock_plan, LOCK_SQL, 1, lock_types), lock_args, NULL, false, 0) !=
        SPI_OK_SELECT)
        elog(ERROR, "chronicle: locking the stream failed");
    *exists = SPI_processed == 1;
    if (!*exists)
        return false;
    bool isnull;
    int64 current = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    if (has_version && version > current)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("stream \"%s\" has no event %lld (its version is %lld)", text_to_cstring(stream),
                               (long long)version, (long long)current)));

    SPITupleTable *rows;
    uint64 nrows;
    if (req->tag)
    {
        static const Oid types[2] = {TEXTOID, TEXTOID};
        Datum args[2] = {PointerGetDatum(stream), CStringGetTextDatum(req->tag)};
        if (pg::spi::execute_plan(pg::spi::kept_plan(&tagged_events_plan, TAGGED_EVENTS_SQL, 2, types), args, NULL, false, 0) !=
            SPI_OK_SELECT)
            elog(ERROR, "chronicle: reading the events failed");
    }
    else
    {
        static const Oid types[2] = {TEXTOID, INT8OID};
        Datum args[2] = {PointerGetDatum(stream), Int64GetDatum(version)};
        char nulls[2] = {' ', has_version ? ' ' : 'n'};
        if (pg::spi::execute_plan(pg::spi::kept_plan(&events_plan, EVENTS_SQL, 2, types), args, nulls, false, 0) !=
            SPI_OK_SELECT)
            elog(ERROR, "chronicle: reading the events failed");
    }
    rows = SPI_tuptable;
    nrows = SPI_processed;
    int64 before = req->changed;
    for (uint64 i = 0; i < nrows; i++)
    {
        CHECK_FOR_INTERRUPTS();
        redact_row(req, stream, rows->vals[i], rows->tupdesc);
    }
    if (req->changed == before)
        return false;
    static const Oid types[1] = {TEXTOID};
    Datum args[1] = {PointerGetDatum(stream)};
    /* The latest snapshot: in REPEATABLE READ the transaction's own would
     * miss a snapshot row committed while this one waited for the stream's
     * row (snapshot_store locks it FOR KEY SHARE before its replay). */
    if (pg::spi::execute_snapshot(pg::spi::kept_plan(&snapshots_plan, SNAPSHOTS_SQL, 1, types), args, NULL,
                                  GetLatestSnapshot(), InvalidSnapshot, false, true, 0) != SPI_OK_DELETE)
        elog(ERROR, "chronicle: deleting the stream's snapshots failed");
    req->snapshots_deleted += (int64)SPI_processed;
    return true;
}

/*
 * On a Citus cluster (docs/design/citus.md) a redaction runs on the node
 * holding the stream's shard group: redact is delegated there by its
 * stream_id, its statements are local to that node, the shard's
 * immutability trigger sees this backend's permit, and the receipt goes to
 * the receipt stream of the same shard group (events_receipts_stream), in
 * the same local transaction.  Anywhere else (the coordinator inside a
 * transaction block, where Citus does not delegate; another worker) it is
 * refused, as append is: a write through Citus from here would stamp the
 * receipt with this node's transaction id and position, not the holding
 * node's.
 */
void require_local_stream(text *stream)
{
    if (!events_distributed())
        return;
    bool distributed;
    Oid events = get_relname_relid("events", get_namespace_oid("chronicle", false));
    if (OidIsValid(pg::citus::local_placement(events, stream, &distributed)))
        return;
    char *node = pg::citus::placement_node(events, stream);
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("stream \"%s\" is not on this node: chronicle.redact() runs on the node holding the "
                           "stream (%s)", text_to_cstring(stream), node ? node : "unknown"),
                    errdetail("On a Citus cluster each node has a log of its own; a redaction and its receipt are "
                              "written on the stream's node, in one local transaction."),
                    errhint("Call chronicle.redact() as its own statement on the coordinator (outside a "
                            "transaction block, Citus then runs it on the stream's node), or on that node.")));
}

/*
 * redact_tagged chooses its events by a tag, which any stream on any node may
 * carry: its redactions and receipts would be written on several nodes, and
 * no local transaction spans them.  Refused on a cluster; redact each stream.
 */
void refuse_distributed_tagged(void)
{
    if (events_distributed())
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("chronicle.redact_tagged() is not supported on a distributed event store"),
                 errdetail("A tag's events may be in streams on every node; a redaction and its receipt are written on "
                           "the stream's node, and no local transaction spans the nodes."),
                 errhint("Find the streams (SELECT DISTINCT stream_id FROM chronicle.events WHERE tags @> "
                         "ARRAY['the tag']) and call chronicle.redact(stream_id, ...) for each, as its own "
                         "statement.")));
}

void check_stream_arg(text *stream)
{
    const char *s = VARDATA_ANY(stream);
    int len = VARSIZE_ANY_EXHDR(stream);
    if (event_row_is_receipt(s, len))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("the receipts in stream \"%s\" cannot be redacted", text_to_cstring(stream)),
                        errdetail("They hold who erased what and why, never an erased value.")));
}

/* Everything after the choice of streams; streams is a palloc'd array. */
int64 run(FunctionCallInfo fcinfo, Request *req, text **streams, int nstreams, bool has_version, int64 version,
          bool one_stream, MemoryContext outer)
{
    Oid caller = GetUserId();
    char *caller_name = GetUserNameFromId(caller, false);
    TimestampTz now = GetCurrentTransactionStartTimestamp();

    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    Oid owner = pg::function_owner(fcinfo);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);

    /* As the owner: the name's look-up reads Citus's metadata of chronicle.events. */
    if (req->receipts == NULL)
        req->receipts = events_receipts_stream(streams[0]);
    if (req->receipts == NULL)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("no receipt stream can be placed with stream \"%s\": its shard is too narrow",
                               text_to_cstring(streams[0])),
                        errdetail("On a Citus cluster a redaction's receipt goes to a stream "
                                  "chronicle-erasures-<n> of the redacted stream's shard; no such name among the "
                                  "first million lands in this one (a shard isolated for one tenant, or split "
                                  "that narrow)."),
                        errhint("Merge the shard back into a wider one (docs/design/citus.md, \"Erasure on a "
                                "cluster\").")));
    pushJsonbValue(&req->events, WJB_BEGIN_ARRAY, NULL);
    bool *touched = (bool *)palloc0(sizeof(bool) * Max(nstreams, 1));
    for (int i = 0; i < nstreams; i++)
    {
        bool exists;
        touched[i] = redact_stream(req, streams[i], has_version, version, &exists);
        if (!exists && one_stream)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("stream \"%s\" does not exist", text_to_cstring(streams[i]))));
    }
    JsonbValue *events = pushJsonbValue(&req->events, WJB_END_ARRAY, NULL);

    if (req->changed > 0)
    {
        /* Every backend forgets the reducer states it computed from the erased data. */
        CacheInvalidateRelcacheByRelid(get_relname_relid("erasures", get_namespace_oid("chronicle", false)));

        JsonbParseState *state = NULL;
        pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
        push_key_string(&state, "by", caller_name);
        push_key_string(&state, "at",
                        DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(now))));
        push_key_string(&state, "reason", req->reason);
        push_key_string(&state, "tag", req->tag);
        push_string(&state, WJB_KEY, "paths");
        if (req->paths)
        {
            pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
            for (int i = 0; i < req->npaths; i++)
                push_string(&state, WJB_ELEM, req->path_texts[i]);
            pushJsonbValue(&state, WJB_END_ARRAY, NULL);
        }
        else
        {
            JsonbValue v;
            v.type = jbvNull;
            pushJsonbValue(&state, WJB_VALUE, &v);
        }
        push_key_int(&state, "count", req->changed);
        push_key_int(&state, "snapshots_deleted", req->snapshots_deleted);
        push_string(&state, WJB_KEY, "events");
        pushJsonbValue(&state, WJB_VALUE, events);
        JsonbValue *receipt = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
        static const Oid types[2] = {JSONBOID, TEXTOID};
        Datum args[2] = {JsonbPGetDatum(JsonbValueToJsonb(receipt)), CStringGetTextDatum(req->receipts)};
        events_allow_receipt();
        if (pg::spi::execute_plan(pg::spi::kept_plan(&receipt_plan, RECEIPT_SQL, 2, types), args, NULL, false, 0) !=
            SPI_OK_SELECT)
            elog(ERROR, "chronicle: appending the erasure receipt failed");
    }

    /* The streams whose projection rows the caller recomputes (outer memory). */
    if (req->changed > 0)
    {
        CommandCounterIncrement();
        MemoryContext old = MemoryContextSwitchTo(outer);
        req->appended = (AppendedEvents *)palloc(sizeof(AppendedEvents) * nstreams);
        MemoryContextSwitchTo(old);
        for (int i = 0; i < nstreams; i++)
        {
            if (!touched[i])
                continue;
            static const Oid types[1] = {TEXTOID};
            Datum args[1] = {PointerGetDatum(streams[i])};
            if (pg::spi::execute_plan(pg::spi::kept_plan(&lock_plan, LOCK_SQL, 1, types), args, NULL, false, 0) != SPI_OK_SELECT ||
                SPI_processed != 1)
                elog(ERROR, "chronicle: stream row vanished during redaction");
            bool isnull;
            int64 current = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
            old = MemoryContextSwitchTo(outer);
            text *copy = (text *)palloc(VARSIZE_ANY(streams[i]));
            memcpy(copy, streams[i], VARSIZE_ANY(streams[i]));
            const char *sid = VARDATA_ANY(copy);
            int len = VARSIZE_ANY_EXHDR(copy);
            int clen = 0;
            while (clen < len && sid[clen] != '-')
                clen++;
            req->appended[req->nappended++] = AppendedEvents{copy, pnstrdup(sid, clen), 1, current, owner};
            MemoryContextSwitchTo(old);
        }
    }
    SetUserIdAndSecContext(saved_user, saved_context);
    return req->changed;
}

} // namespace

SQL_FUNCTION(chronicle_redact)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("stream_id must not be NULL")));
    PreventCommandIfReadOnly("chronicle.redact()");
    PreventCommandIfParallelMode("chronicle.redact()");
    text *stream = PG_GETARG_TEXT_PP(0);
    check_stream_arg(stream);
    require_local_stream(stream);
    bool has_version = !PG_ARGISNULL(1);
    int64 version = has_version ? PG_GETARG_INT64(1) : 0;
    if (has_version && version < 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("version must be at least 1")));
    Request req;
    memset(&req, 0, sizeof(req));
    if (!PG_ARGISNULL(2))
        parse_paths(PG_GETARG_ARRAYTYPE_P(2), &req);
    req.reason = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
    MemoryContext outer = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    text **streams = (text **)palloc(sizeof(text *));
    streams[0] = stream;
    /*
     * On a cluster every statement goes to a local shard, and must run in
     * this backend (Citus's local execution), where the permit is: a session
     * with citus.enable_local_execution off would send them through a
     * connection to this node, whose trigger refuses the UPDATE.
     */
    int nest = NewGUCNestLevel();
    if (events_distributed())
        set_config_option("citus.enable_local_execution", "on", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                          0, false);
    int64 n = run(fcinfo, &req, streams, 1, has_version, version, true, outer);
    AtEOXact_GUC(true, nest);
    SPI_finish();
    recompute(&req);
    PG_RETURN_INT64(n);
}

SQL_FUNCTION(chronicle_redact_tagged)
{
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tag must not be NULL")));
    PreventCommandIfReadOnly("chronicle.redact_tagged()");
    PreventCommandIfParallelMode("chronicle.redact_tagged()");
    refuse_distributed_tagged();
    text *tag = PG_GETARG_TEXT_PP(0);
    if (VARSIZE_ANY_EXHDR(tag) == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("tag must not be empty")));
    events_check_searched_tag(VARDATA_ANY(tag), VARSIZE_ANY_EXHDR(tag), "tag");
    Request req;
    memset(&req, 0, sizeof(req));
    if (!PG_ARGISNULL(1))
        parse_paths(PG_GETARG_ARRAYTYPE_P(1), &req);
    req.reason = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
    req.tag = text_to_cstring(tag);
    req.receipts = ERASURES_STREAM; /* one server only (refuse_distributed_tagged) */
    MemoryContext outer = CurrentMemoryContext;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    /* The streams holding the tag, as the owner (the caller may not read the table). */
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(pg::function_owner(fcinfo), saved_context | SECURITY_LOCAL_USERID_CHANGE);
    static const Oid types[1] = {TEXTOID};
    Datum args[1] = {PointerGetDatum(tag)};
    if (pg::spi::execute_plan(pg::spi::kept_plan(&tagged_streams_plan, TAGGED_STREAMS_SQL, 1, types), args, NULL, false,
                         0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the tagged streams failed");
    SetUserIdAndSecContext(saved_user, saved_context);
    int n = (int)SPI_processed;
    text **streams = (text **)palloc(sizeof(text *) * Max(n, 1));
    int kept = 0;
    for (int i = 0; i < n; i++)
    {
        bool isnull;
        text *s = DatumGetTextPCopy(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
        if (VARSIZE_ANY_EXHDR(s) == (int)strlen(ERASURES_STREAM) &&
            memcmp(VARDATA_ANY(s), ERASURES_STREAM, VARSIZE_ANY_EXHDR(s)) == 0)
            continue;
        streams[kept++] = s;
    }
    int64 changed = run(fcinfo, &req, streams, kept, false, 0, false, outer);
    SPI_finish();
    recompute(&req);
    PG_RETURN_INT64(changed);
}
