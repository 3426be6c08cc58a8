/*
 * events.h: what the files of the events module share (private to it; the
 * erasure module, which rewrites events in place, is its one other user).
 * The row of chronicle.events (EV_* column numbers, EVENTS_COLUMNS) is
 * defined in row/event_row.h; modules above the event store read events
 * through read.h and learn of appends through observers.h.
 *
 * src/events is C-style (pg/boundary.h): no frame owns a C++ object with a
 * destructor, and any function may ereport.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "nodes/execnodes.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"
}

#include "events/read.h"
#include "row/event_row.h"

#define EVENTS_HASH_LEN 32 /* SHA-256 */
#define EVENTS_NOTIFY_CHANNEL "chronicle_events"

/*
 * read.cpp, on a Citus cluster (docs/design/citus.md): is chronicle.events
 * distributed here?  And a log statement ("... FROM chronicle.events e ...")
 * rewritten to read this node's shards, under this node's horizon (0A000
 * when this node holds none).  palloc'd.
 */
bool events_distributed(void);
char *events_node_log_sql(const char *sql);
/*
 * The stream holding the erasure receipts of stream's redactions
 * (row/event_row.h): "chronicle-erasures" on one server; on a Citus cluster
 * "chronicle-erasures-<n>", the first such name in stream's shard group, so
 * on the node of stream's events; NULL on a cluster when no such name lands
 * in that shard (pg::citus::colocated_name: a shard isolated for one
 * tenant).  palloc'd; may use SPI.
 */
char *events_receipts_stream(text *stream);

/*
 * hash.cpp: the chain (docs/design/erasure.md, "The canonical encoding").
 * A link of chain v2 is computed from an EventsLink; content is the event's
 * content digest (events_content_digest of its original data and metadata).
 */
struct EventsLink
{
    const char *stream_id;
    size_t stream_len;
    int64 version;
    int64 global_position;
    const pg_uuid_t *event_id;
    const char *type;
    size_t type_len;
    int32 type_version;
    TimestampTz recorded_at;
    uint64 tx_id;          /* the full transaction id (xid8) */
    ArrayType *tags;       /* text[], detoasted; NULL: no tags */
    const uint8 *content;  /* EVENTS_HASH_LEN bytes */
};
void events_content_digest(Jsonb *data, Jsonb *metadata, uint8 *out);
void events_hash(const uint8 *prev_hash, size_t prev_len, const EventsLink *row, uint8 *out);
void events_sha256(const char *data, size_t len, uint8 *out);
/* Chain v1 (0.1.0): only to check a 0.1.0 log before the upgrade re-chains it. */
void events_hash_v1(const uint8 *prev_hash, size_t prev_len, const char *stream_id,
                    size_t stream_len, int64 version, const pg_uuid_t *event_id, const char *type,
                    size_t type_len, int32 type_version, Jsonb *data, Jsonb *metadata,
                    TimestampTz recorded_at, uint8 *out);

/*
 * direct.cpp: a table of chronicle's opened for a write through the table
 * AM, with the executor state that index insertion and constraint checks
 * need.  plain(): the table has exactly the given column types and nothing
 * (rule, row-level security, deferrable or exclusion constraint) that such a
 * write would skip; triggers are each caller's to judge.
 */
struct DirectTarget
{
    Relation rel;
    EState *estate;
    ResultRelInfo *rri;
};
void events_direct_open(DirectTarget *target, Oid relid, AclMode perms);
void events_direct_close(DirectTarget *target);
bool events_direct_plain(const DirectTarget *target, const Oid *column_types, int ncolumns);

/*
 * The objects of schema chronicle that an append's direct writes use, looked
 * up once per append.  On a Citus cluster (distributed: chronicle.distribute()
 * has run) events and streams are the local shards holding stream_id's rows
 * (pg/citus.h), and the SQL an append runs must be statements Citus can route
 * to them; when the stream's shards are on another node, events_catalog
 * refuses with 0A000 (an append writes where the stream lives: its tx_id and
 * global_position are that node's, docs/design/citus.md).
 */
struct EventsCatalog
{
    Oid events;
    Oid streams;
    Oid position_seq;
    Oid insert_check_fn;  /* _events_insert_check() */
    Oid version_grows_fn; /* _streams_version_grows() */
    bool distributed;     /* Citus: event_id is unique per stream, SQL must be routable */
};
void events_catalog(EventsCatalog *out, text *stream_id);

/*
 * store.cpp: new rows written through the table AM and the executor's index
 * machinery (no INSERT statement).  begin() returns NULL when the table has
 * something that path would skip (an extra trigger, a rule, ...): then use
 * an INSERT.  put() writes the global_position given in values[] (taken before hashing) and returns it; values[] holds
 * every column but original_digest, which put() leaves empty (an append's event is not redacted).
 */
struct EventsStore;
EventsStore *events_store_begin(const EventsCatalog *catalog);
int64 events_store_put(EventsStore *store, const Datum *values); /* returns the global_position */
void events_store_end(EventsStore *store);

/*
 * stream_row.cpp: an append's stream-row bump and previous-hash look-up
 * without SQL statements.  bump() adds count to the stream's version and
 * returns the version before; EVENTS_BUMP_NO_ROW when the stream has no row
 * (create it with the INSERT ... ON CONFLICT statement), EVENTS_BUMP_USE_SQL
 * when chronicle.streams has something the direct path would skip (use the
 * UPDATE statement).  prev_hash() reads event `version`'s hash into out
 * (EVENTS_HASH_LEN bytes); false when that event does not exist.
 */
#define EVENTS_BUMP_NO_ROW (-1)
#define EVENTS_BUMP_USE_SQL (-2)
int64 events_stream_bump(const EventsCatalog *catalog, text *stream_id, int64 count, TimestampTz now);
bool events_prev_hash(const EventsCatalog *catalog, text *stream_id, int64 version, uint8 *out);

/* validate.cpp: argument rules shared by append and the insert trigger. */
void events_check_stream_id(const char *stream_id, int len); /* 22023 */
void events_check_type(const char *type, int len);           /* SE003 */
/*
 * Stream chronicle-erasures holds redact's receipts, which verify() trusts:
 * an append to it is refused (42501) unless redact announced it just before
 * (events_allow_receipt, spent by that append, tied to the (sub)transaction).
 * events_check_append_stream returns true for that receipt's append (whose
 * events no schema applies to: row/event_row.h), false for any other stream.
 */
void events_allow_receipt(void);
bool events_check_append_stream(const char *stream_id, int len);
void events_check_object(Jsonb *value, const char *what);    /* SE003 */
int events_category_len(const char *stream_id, int len);     /* bytes before the first '-' */
/*
 * tags: a one-dimensional text[] without NULLs, 0..64 distinct elements of
 * 1..255 characters without control characters (SE003).  Errors name element
 * what[i + base]: base 1 for a SQL array, 0 for a JSON one.
 */
void events_check_tags(ArrayType *tags, const char *what, int base);
/*
 * A tag searched for (named by label in the message): one no event can carry
 * (over 255 characters, a control character) is 22023, rather than a search
 * that silently finds nothing.  events_check_query_tag names a query item's
 * tag "what: items[item].tags[index]".
 */
void events_check_searched_tag(const char *s, int len, const char *label);
void events_check_query_tag(const char *s, int len, const char *what, int item, int index);

/*
 * dcb_locks.cpp: the locks that make append_events' condition race-free
 * (docs/design/dcb.md).  A call gathers its keys into a set (a shared key
 * for each written event's type and tags, an exclusive key per condition
 * item) and takes them together, before it writes or checks: the wide key
 * first, then the keys in ascending order (docs/design/locking.md, level 5).
 * Transaction-level: held until commit or abort.
 */
struct DcbLockKey
{
    LOCKTAG tag;
    LOCKMODE mode;
};
struct DcbKeySet
{
    DcbLockKey *keys;
    int n, max;
};
void events_keys_init(DcbKeySet *set, int expected);
void events_keys_written(DcbKeySet *set, const char *type, int type_len, ArrayType *tags);
void events_keys_condition(DcbKeySet *set, const char *s, int len, bool is_tag);
void events_keys_lock(DcbKeySet *set, bool conditional);
/* One event's shared keys, as a call of their own (a direct INSERT's row). */
void events_lock_written(const char *type, int type_len, ArrayType *tags);

/*
 * dcb.cpp: a query over types and tags (docs/reference/dcb.md), parsed (22023 for
 * a malformed one; what names the argument in messages); its condition
 * locks; and the check: the first matching event after (after_tx,
 * after_position) in read_all order among all committed events but those
 * of own_ids, read with a snapshot taken after the locks (SPI not connected;
 * hit in the caller's memory).
 */
struct EventQuery;
struct ConditionHit
{
    char *stream_id;
    int64 version;
    int64 position;
};
EventQuery *events_query_parse(Jsonb *query, const char *what);
void events_query_lock(const EventQuery *q, DcbKeySet *set);
bool events_all_stored(ArrayType *ids);
bool events_condition_check(const EventQuery *q, Datum after_tx, int64 after_position, ArrayType *own_ids,
                            ConditionHit *hit); /* own_ids: uuid[] of the append's caller-chosen event_ids */

/*
 * pending.cpp: the rows append is inserting right now, with the hashes it
 * computed, so that the insert trigger can accept them without recomputing;
 * any other INSERT is checked in full.  Valid only inside the (sub)transaction
 * that set it.
 */
void events_pending_set(const char *stream_id, int stream_len, int64 first_version, int count,
                        const uint8 *hashes);
void events_pending_clear(void);
bool events_pending_match(const char *stream_id, int stream_len, int64 version,
                          const uint8 *hash);

/*
 * pending.cpp: the one-row permit for the only updates chronicle makes to an
 * event (redaction; the 0.1.0 upgrade's re-chaining), checked and spent by
 * the immutability trigger (triggers.cpp).  Valid only inside the
 * (sub)transaction that set it.
 */
enum EventsPermitKind
{
    EVENTS_PERMIT_REDACT, /* data and metadata become the given ones */
    EVENTS_PERMIT_REHASH  /* hash becomes the given one */
};
void events_permit_set(EventsPermitKind kind, const char *stream_id, int stream_len, int64 version,
                       Jsonb *data, Jsonb *metadata, const uint8 *hash);
void events_permit_clear(void);
bool events_permit_take(const char *stream_id, int stream_len, int64 version, EventsPermitKind *kind,
                        Jsonb **data, Jsonb **metadata, const uint8 **hash);

/* triggers.cpp: the tags of a chronicle.events row (detoasted; NULL when empty). */
ArrayType *events_row_tags(HeapTuple row, TupleDesc desc);

/*
 * verify.cpp: the chain walk.  A verify scan row holds, by column: 1
 * stream_id, 2 version, 3 event_id, 4 type, 5 type_version, 6 data, 7
 * metadata, 8 recorded_at, 9 hash, then the EVENTS_SCAN_* columns below;
 * events_scan_hash computes its chain-v2 link from prev (the row's
 * original_digest when it is redacted, else the digest of data and metadata).
 * events_verify_into runs verify() (SPI connected) into out; v1 checks chain
 * v1 (the 0.1.0 log before the upgrade re-chains it).
 */
#define EVENTS_SCAN_POSITION 10
#define EVENTS_SCAN_TX 11
#define EVENTS_SCAN_CONTENT 12
#define EVENTS_SCAN_TAGS_COLUMN 13
/* Chain v1's columns (the 0.1.0 upgrade's check), FROM chronicle.events e. */
#define EVENTS_SCAN_V1_SELECT                                                                 \
    "SELECT e.stream_id, e.version, e.event_id, e.type, e.type_version, e.data, e.metadata, " \
    "e.recorded_at, e.hash FROM chronicle.events e "
/* A verify scan row: the original digest is `content` (a bytea expression, or NULL). */
#define EVENTS_SCAN_SELECT(content)                                                           \
    "SELECT e.stream_id, e.version, e.event_id, e.type, e.type_version, e.data, e.metadata, " \
    "e.recorded_at, e.hash, e.global_position, e.tx_id, " content ", e.tags FROM chronicle.events e "
/* ... with the original digest a redacted row carries (verify, digest). */
#define EVENTS_SCAN_REDACTED EVENTS_SCAN_SELECT("e.original_digest")
struct EventsReport
{
    Tuplestorestate *store;
    TupleDesc desc;
    int64 count;
};
void events_scan_hash(const uint8 *prev, size_t prev_len, HeapTuple row, TupleDesc desc, uint8 *out);
void events_verify_into(EventsReport *out, text *stream_id, bool v1);
