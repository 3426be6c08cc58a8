/*
 * triggers.cpp: the database enforces the log's history (docs/reference/events.md,
 * "Immutability").
 *
 *  - chronicle._events_immutable(): UPDATE and DELETE (row level) and
 *    TRUNCATE (statement level) on chronicle.events raise SE002, whoever runs
 *    them, the owner included; so do DELETE and TRUNCATE on chronicle.streams
 *    (no foreign key protects its rows: see docs/design/operations.md).  The
 *    one exception is an update of an event that chronicle's own C code
 *    announced for that exact row (events_permit_set: a redaction replacing
 *    data and metadata, or the upgrade's re-chaining replacing the hash),
 *    with every other column unchanged.
 *  - chronicle._events_insert_check(): an INSERT into chronicle.events is
 *    accepted when it is a row chronicle.append is writing right now (same
 *    stream, version and the hash append computed: see pending.cpp), or when
 *    it passes the full check: valid stream id, type and JSON objects, the next
 *    version of its stream, and the hash that continues the chain.  So even the
 *    owner cannot insert a row that breaks the version or hash rules.  The
 *    check reads the row and its stream's last event, nothing else: a
 *    redacted event carries the content digest its link commits to
 *    (original_digest), so a restore may load the tables in any order
 *    (pg_restore -j).  Whether a redacted row's content is what its
 *    redaction left is verify()'s to check, against the chained receipts
 *    (docs/design/erasure.md, "Dump and restore").
 *  - chronicle._streams_version_grows(): a stream row keeps its id and
 *    category and its version never goes down.
 */
#include "events/events.h"
#include "pg/spi.h"
#include "pg/citus.h"
#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/xid8.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
}

namespace {

SPIPlanPtr last_event_plan;

const char *const LAST_EVENT_SQL =
    "SELECT e.version, e.hash FROM chronicle.events e "
    "WHERE e.stream_id OPERATOR(pg_catalog.=) $1 ORDER BY e.version DESC LIMIT 1";

TriggerData *trigger_data(FunctionCallInfo fcinfo, const char *name)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        pg::format("%s() must be called as a trigger", name));
    return (TriggerData *)fcinfo->context;
}

Datum attr(HeapTuple row, TupleDesc desc, int column)
{
    bool isnull;
    Datum value = heap_getattr(row, column, desc, &isnull);
    if (isnull)
        throw pg::Error(ERRCODE_NOT_NULL_VIOLATION, "chronicle.events columns must not be NULL");
    return value;
}

/* The full check of a row that chronicle.append did not write. */
void check_direct_insert(HeapTuple row, TupleDesc desc)
{
    text *stream = DatumGetTextPP(attr(row, desc, EV_STREAM_ID));
    char *stream_id = text_to_cstring(stream);
    int stream_len = VARSIZE_ANY_EXHDR(stream);
    int64 version = DatumGetInt64(attr(row, desc, EV_VERSION));
    pg_uuid_t *event_id = DatumGetUUIDP(attr(row, desc, EV_EVENT_ID));
    text *type_text = DatumGetTextPP(attr(row, desc, EV_TYPE));
    char *type = text_to_cstring(type_text);
    int type_len = VARSIZE_ANY_EXHDR(type_text);
    int32 type_version = DatumGetInt32(attr(row, desc, EV_TYPE_VERSION));
    Jsonb *data = DatumGetJsonbP(attr(row, desc, EV_DATA));
    Jsonb *metadata = DatumGetJsonbP(attr(row, desc, EV_METADATA));
    TimestampTz recorded_at = DatumGetTimestampTz(attr(row, desc, EV_RECORDED_AT));
    bytea *hash = DatumGetByteaPP(attr(row, desc, EV_HASH));

    events_check_stream_id(stream_id, stream_len);
    events_check_type(type, type_len);
    events_check_object(data, "data");
    events_check_object(metadata, "metadata");
    if (type_version < 1)
        throw pg::Error(CHRONICLE_INVALID_EVENT, "type_version must be at least 1");
    /* Tags (0.2.0) are the last column; a direct insert takes append's shared keys too. */
    ArrayType *tags = desc->natts >= EV_TAGS ? DatumGetArrayTypeP(attr(row, desc, EV_TAGS)) : NULL;
    if (tags != NULL)
        events_check_tags(tags, "tags", 1);
    events_lock_written(type, type_len, tags);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&last_event_plan, LAST_EVENT_SQL, 1, argtypes);
    Datum args[1] = {PointerGetDatum(stream)};
    if (pg::spi::execute_plan(plan, args, NULL, false, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: last event lookup failed");
    int64 last = 0;
    uint8 prev[EVENTS_HASH_LEN];
    size_t prev_len = 0;
    if (SPI_processed == 1)
    {
        bool isnull;
        last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        bytea *h = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
        prev_len = Min(VARSIZE_ANY_EXHDR(h), EVENTS_HASH_LEN);
        memcpy(prev, VARDATA_ANY(h), prev_len);
    }
    SPI_finish();

    if (version != last + 1)
        throw pg::Error(CHRONICLE_IMMUTABLE_HISTORY,
                        pg::format("an event inserted into stream \"%s\" must have version %lld, not %lld",
                                   stream_id, (long long)(last + 1), (long long)version),
                        "Versions are contiguous per stream.", "Append with chronicle.append().");

    /* A redacted event: the digest of its content as appended, which its
     * link commits to; any other: the digest of the content it holds. */
    uint8 content[EVENTS_HASH_LEN];
    bytea *original = desc->natts >= EV_ORIGINAL_DIGEST ? DatumGetByteaPP(attr(row, desc, EV_ORIGINAL_DIGEST)) : NULL;
    int original_len = original ? (int)VARSIZE_ANY_EXHDR(original) : 0;
    if (original_len == EVENTS_HASH_LEN)
        memcpy(content, VARDATA_ANY(original), EVENTS_HASH_LEN);
    else if (original_len == 0)
        events_content_digest(data, metadata, content);
    else
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("original_digest of event %lld of stream \"%s\" must be empty or %d bytes, not %d",
                                   (long long)version, stream_id, EVENTS_HASH_LEN, original_len),
                        "It is the SHA-256 content digest of a redacted event's data and metadata as appended.");
    EventsLink link = {stream_id, (size_t)stream_len, version,
                       DatumGetInt64(attr(row, desc, EV_GLOBAL_POSITION)), event_id, type,
                       (size_t)type_len, type_version, recorded_at,
                       U64FromFullTransactionId(DatumGetFullTransactionId(attr(row, desc, EV_TX_ID))),
                       events_row_tags(row, desc), content};
    uint8 expected[EVENTS_HASH_LEN];
    events_hash(prev, prev_len, &link, expected);
    if (VARSIZE_ANY_EXHDR(hash) != EVENTS_HASH_LEN ||
        memcmp(VARDATA_ANY(hash), expected, EVENTS_HASH_LEN) != 0)
        throw pg::Error(CHRONICLE_IMMUTABLE_HISTORY,
                        pg::format("the hash of event %lld of stream \"%s\" does not continue the chain",
                                   (long long)version, stream_id),
                        "hash must be sha256(previous hash || canonical row), see chronicle.verify().",
                        "Append with chronicle.append().");
}

/*
 * An UPDATE chronicle itself makes (events_permit_set): the permit names this
 * row; every column but the permitted ones is unchanged; the permitted ones
 * hold exactly the permit's values.  A redaction also sets original_digest,
 * at the event's first one, to the content digest of the row's data and
 * metadata before it (computed here, from the old row), and keeps it at
 * later ones.  Anything else is a tampering.
 */
bool permitted_update(TriggerData *td)
{
    TupleDesc desc = td->tg_relation->rd_att;
    HeapTuple old_row = td->tg_trigtuple;
    HeapTuple new_row = td->tg_newtuple;
    text *stream = DatumGetTextPP(attr(old_row, desc, EV_STREAM_ID));
    int64 version = DatumGetInt64(attr(old_row, desc, EV_VERSION));
    EventsPermitKind kind;
    Jsonb *data;
    Jsonb *metadata;
    const uint8 *hash;
    if (!events_permit_take(VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream), version, &kind, &data,
                            &metadata, &hash))
        return false;
    for (int i = 1; i <= desc->natts; i++)
    {
        Form_pg_attribute a = TupleDescAttr(desc, i - 1);
        if (a->attisdropped)
            continue;
        bool old_null, new_null;
        Datum old_value = heap_getattr(old_row, i, desc, &old_null);
        Datum new_value = heap_getattr(new_row, i, desc, &new_null);
        if (new_null || old_null)
            return false;
        if (kind == EVENTS_PERMIT_REDACT && i == EV_ORIGINAL_DIGEST)
        {
            uint8 want[EVENTS_HASH_LEN];
            bytea *old_digest = DatumGetByteaPP(old_value);
            if (VARSIZE_ANY_EXHDR(old_digest) == 0)
                events_content_digest(DatumGetJsonbP(attr(old_row, desc, EV_DATA)),
                                      DatumGetJsonbP(attr(old_row, desc, EV_METADATA)), want);
            else if (VARSIZE_ANY_EXHDR(old_digest) == EVENTS_HASH_LEN)
                memcpy(want, VARDATA_ANY(old_digest), EVENTS_HASH_LEN);
            else
                return false;
            bytea *d = DatumGetByteaPP(new_value);
            if (VARSIZE_ANY_EXHDR(d) != EVENTS_HASH_LEN || memcmp(VARDATA_ANY(d), want, EVENTS_HASH_LEN) != 0)
                return false;
            continue;
        }
        if (kind == EVENTS_PERMIT_REDACT && (i == EV_DATA || i == EV_METADATA))
        {
            Jsonb *want = i == EV_DATA ? data : metadata;
            if (!datum_image_eq(new_value, PointerGetDatum(want), false, -1))
                return false;
            continue;
        }
        if (kind == EVENTS_PERMIT_REHASH && i == EV_HASH)
        {
            bytea *h = DatumGetByteaPP(new_value);
            if (VARSIZE_ANY_EXHDR(h) != EVENTS_HASH_LEN ||
                memcmp(VARDATA_ANY(h), hash, EVENTS_HASH_LEN) != 0)
                return false;
            continue;
        }
        if (!datum_image_eq(old_value, new_value, a->attbyval, a->attlen))
            return false;
    }
    return true;
}

/*
 * chronicle.events, or on a Citus cluster a shard of it placed on this node
 * (chronicle.events_102013): a redaction delegated to the stream's node
 * updates the shard, in this backend (docs/design/citus.md).  A table that
 * only has a shard's name is none (pg::citus::shard_parent).
 */
bool events_relation(Relation rel)
{
    const char *name = RelationGetRelationName(rel);
    if (strcmp(name, "events") == 0)
        return true;
    if (strncmp(name, "events_", 7) != 0 || !pg::citus::installed())
        return false;
    char method;
    char *column;
    Oid parent = pg::citus::shard_parent(RelationGetRelid(rel), &method, &column);
    return OidIsValid(parent) && parent == get_relname_relid("events", get_namespace_oid("chronicle", false));
}

} // namespace

ArrayType *events_row_tags(HeapTuple row, TupleDesc desc)
{
    bool isnull;
    Datum tags = heap_getattr(row, EV_TAGS, desc, &isnull);
    return isnull ? NULL : DatumGetArrayTypeP(tags);
}

SQL_FUNCTION(chronicle_events_immutable)
{
    TriggerData *td = trigger_data(fcinfo, "chronicle._events_immutable");
    const char *what = TRIGGER_FIRED_BY_UPDATE(td->tg_event)   ? "UPDATE"
                       : TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE"
                                                               : "TRUNCATE";
    const char *table = RelationGetRelationName(td->tg_relation);
    if (TRIGGER_FIRED_FOR_ROW(td->tg_event) && TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
        TRIGGER_FIRED_BEFORE(td->tg_event) && events_relation(td->tg_relation) && permitted_update(td))
        return PointerGetDatum(td->tg_newtuple);
    if (TRIGGER_FIRED_FOR_ROW(td->tg_event))
    {
        /* chronicle.streams (stream_id 1, category 2, version 3) has this
         * trigger for DELETE since no foreign key ties events to it. */
        bool streams = strcmp(table, "streams") == 0;
        TupleDesc desc = td->tg_relation->rd_att;
        char *stream = TextDatumGetCString(attr(td->tg_trigtuple, desc, EV_STREAM_ID));
        int64 version = DatumGetInt64(attr(td->tg_trigtuple, desc, streams ? 3 : EV_VERSION));
        throw pg::Error(CHRONICLE_IMMUTABLE_HISTORY,
                        pg::format("%s of chronicle.%s is not allowed: the event log is append-only",
                                   what, table),
                        streams ? pg::format("Stream \"%s\" at version %lld.", stream, (long long)version)
                                : pg::format("Event %lld of stream \"%s\".", (long long)version, stream),
                        "Record a correcting event instead.");
    }
    throw pg::Error(CHRONICLE_IMMUTABLE_HISTORY,
                    pg::format("%s of chronicle.%s is not allowed: the event log is append-only",
                               what, table));
    return (Datum)0;
}

SQL_FUNCTION(chronicle_events_insert_check)
{
    TriggerData *td = trigger_data(fcinfo, "chronicle._events_insert_check");
    if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
        !TRIGGER_FIRED_BEFORE(td->tg_event))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "chronicle._events_insert_check() must be a BEFORE INSERT row trigger");
    HeapTuple row = td->tg_trigtuple;
    TupleDesc desc = td->tg_relation->rd_att;

    text *stream = DatumGetTextPP(attr(row, desc, EV_STREAM_ID));
    int64 version = DatumGetInt64(attr(row, desc, EV_VERSION));
    bytea *hash = DatumGetByteaPP(attr(row, desc, EV_HASH));
    if (VARSIZE_ANY_EXHDR(hash) == EVENTS_HASH_LEN &&
        events_pending_match(VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream), version,
                             (const uint8 *)VARDATA_ANY(hash)))
        return PointerGetDatum(row);
    check_direct_insert(row, desc);
    return PointerGetDatum(row);
}

SQL_FUNCTION(chronicle_streams_version_grows)
{
    TriggerData *td = trigger_data(fcinfo, "chronicle._streams_version_grows");
    if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "chronicle._streams_version_grows() must be an UPDATE row trigger");
    TupleDesc desc = td->tg_relation->rd_att;
    HeapTuple old_row = td->tg_trigtuple;
    HeapTuple new_row = td->tg_newtuple;
    /* streams: stream_id 1, category 2, version 3 */
    int64 old_version = DatumGetInt64(attr(old_row, desc, 3));
    int64 new_version = DatumGetInt64(attr(new_row, desc, 3));
    text *old_id = DatumGetTextPP(attr(old_row, desc, 1));
    text *new_id = DatumGetTextPP(attr(new_row, desc, 1));
    text *old_category = DatumGetTextPP(attr(old_row, desc, 2));
    text *new_category = DatumGetTextPP(attr(new_row, desc, 2));
    auto same = [](text *a, text *b) {
        return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
               memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
    };
    if (new_version < old_version || !same(old_id, new_id) || !same(old_category, new_category))
    {
        const char *stream = text_to_cstring(old_id);
        throw pg::Error(CHRONICLE_IMMUTABLE_HISTORY,
                        pg::format("stream \"%s\": a stream keeps its id and category and its version only grows",
                                   stream),
                        pg::format("Version %lld would become %lld.", (long long)old_version,
                                   (long long)new_version));
    }
    return PointerGetDatum(new_row);
}
