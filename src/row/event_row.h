/*
 * event_row.h: the row of chronicle.events, defined once.  Its columns,
 * their order and types, the select list that yields it and the deforming
 * that reads it straight from a heap tuple are stated here and nowhere else:
 * events (append, reads, triggers), replay (replay, scan, fold) and
 * subscriptions (poll) all take them from this header, which depends on
 * nothing of chronicle's.  Adding a column: src/events/tables.sql, its
 * migration in src/upgrade/, and one line of EVENT_ROW below (a new column
 * goes last, as tags did, so that upgraded and fresh tables agree).
 *
 * Header-only, C-style (pg/boundary.h): nothing here owns a destructor.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "access/tupmacs.h"
#include "catalog/pg_type_d.h"
#include "utils/uuid.h"
}

/*
 * How a column is stored, which its type fixes: event_row_deform needs no
 * tuple descriptor look-ups for them.
 */
enum EventStoredAs : uint8
{
    EVENT_STORED_VARLENA, /* text, jsonb, bytea, text[]: int alignment unless short */
    EVENT_STORED_INT8,    /* bigint, timestamptz, xid8: by value, double alignment */
    EVENT_STORED_INT4,    /* int: by value, int alignment */
    EVENT_STORED_UUID     /* 16 bytes by reference, char alignment */
};

/* The columns of chronicle.events in table order: X(ENUM_SUFFIX, name, type, storage). */
#define EVENT_ROW(X)                                           \
    X(STREAM_ID, stream_id, TEXTOID, VARLENA)                  \
    X(VERSION, version, INT8OID, INT8)                         \
    X(GLOBAL_POSITION, global_position, INT8OID, INT8)         \
    X(EVENT_ID, event_id, UUIDOID, UUID)                       \
    X(TYPE, type, TEXTOID, VARLENA)                            \
    X(TYPE_VERSION, type_version, INT4OID, INT4)               \
    X(DATA, data, JSONBOID, VARLENA)                           \
    X(METADATA, metadata, JSONBOID, VARLENA)                   \
    X(RECORDED_AT, recorded_at, TIMESTAMPTZOID, INT8)          \
    X(TX_ID, tx_id, XID8OID, INT8)                             \
    X(HASH, hash, BYTEAOID, VARLENA)                           \
    X(TAGS, tags, TEXTARRAYOID, VARLENA) /* 0.2.0: after hash */ \
    X(ORIGINAL_DIGEST, original_digest, BYTEAOID, VARLENA) /* 0.2.0: empty unless redacted */

/* Column numbers (1-based, as heap_getattr and SPI take them); EV_NCOLUMNS columns. */
enum EventsColumn
{
    EV_BEFORE_FIRST_ = 0,
#define EVENT_ROW_ENUM(ID, name, type, stored) EV_##ID,
    EVENT_ROW(EVENT_ROW_ENUM)
#undef EVENT_ROW_ENUM
    EV_AFTER_LAST_,
    EV_NCOLUMNS = EV_AFTER_LAST_ - 1
};

struct EventColumnDef
{
    const char *name;
    Oid type;
    EventStoredAs stored;
};

/* The columns by index (column number - 1). */
static constexpr EventColumnDef event_row_columns[EV_NCOLUMNS] = {
#define EVENT_ROW_DEF(ID, name, type, stored) {#name, type, EVENT_STORED_##stored},
    EVENT_ROW(EVENT_ROW_DEF)
#undef EVENT_ROW_DEF
};

/* Their types alone, in order (what events_direct_plain compares). */
static constexpr Oid event_row_types[EV_NCOLUMNS] = {
#define EVENT_ROW_TYPE(ID, name, type, stored) type,
    EVENT_ROW(EVENT_ROW_TYPE)
#undef EVENT_ROW_TYPE
};

/*
 * The select list that yields rows of type chronicle.events from alias e
 * (a string literal, to splice into statements).  Checked against
 * EVENT_ROW at compile time below.
 */
#define EVENTS_COLUMNS                                                                        \
    "e.stream_id, e.version, e.global_position, e.event_id, e.type, e.type_version, e.data, " \
    "e.metadata, e.recorded_at, e.tx_id, e.hash, e.tags, e.original_digest"

namespace event_row_detail {
constexpr bool same_prefix(const char *s, const char *name, int *pos)
{
    int i = 0;
    for (; name[i] != '\0'; i++)
        if (s[*pos + i] != name[i])
            return false;
    *pos += i;
    return true;
}
/* Is s exactly "e.<col1>, e.<col2>, ..." for the columns of EVENT_ROW? */
constexpr bool select_list_matches(const char *s)
{
    int pos = 0;
    for (int c = 0; c < EV_NCOLUMNS; c++)
    {
        if (c > 0 && !same_prefix(s, ", ", &pos))
            return false;
        if (!same_prefix(s, "e.", &pos) || !same_prefix(s, event_row_columns[c].name, &pos))
            return false;
    }
    return s[pos] == '\0';
}
} // namespace event_row_detail
static_assert(event_row_detail::select_list_matches(EVENTS_COLUMNS),
              "EVENTS_COLUMNS must name the columns of EVENT_ROW, in order");

/*
 * Does desc start with the first ncolumns columns of chronicle.events, by
 * name and type, none dropped?  (desc may have more.)
 */
static inline bool event_row_desc_matches(TupleDesc desc, int ncolumns)
{
    if (desc->natts < ncolumns)
        return false;
    for (int i = 0; i < ncolumns; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || att->atttypid != event_row_columns[i].type ||
            strcmp(NameStr(att->attname), event_row_columns[i].name) != 0)
            return false;
    }
    return true;
}

/* Column I of a tuple without nulls, stored at or after off; returns the offset past it. */
template <int I>
static inline uint32 event_row_take_column(const char *tp, uint32 off, Datum *value)
{
    switch (event_row_columns[I].stored)
    {
    case EVENT_STORED_VARLENA:
        off = att_align_pointer(off, TYPALIGN_INT, -1, tp + off);
        *value = PointerGetDatum(tp + off);
        return off + VARSIZE_ANY(tp + off);
    case EVENT_STORED_INT8:
        off = TYPEALIGN(ALIGNOF_DOUBLE, off);
        *value = Int64GetDatum(*reinterpret_cast<const int64 *>(tp + off));
        return off + sizeof(int64);
    case EVENT_STORED_INT4:
        off = INTALIGN(off);
        *value = Int32GetDatum(*reinterpret_cast<const int32 *>(tp + off));
        return off + sizeof(int32);
    case EVENT_STORED_UUID:
        *value = PointerGetDatum(tp + off);
        return off + UUID_LEN;
    }
    return off;
}

/* Columns I.. up to natts, unrolled: each column's storage is a constant. */
template <int I>
static inline void event_row_take_columns(const char *tp, uint32 off, int natts, Datum *values)
{
    if constexpr (I < EV_NCOLUMNS)
    {
        if (I < natts)
            event_row_take_columns<I + 1>(tp, event_row_take_column<I>(tp, off, &values[I]), natts, values);
    }
}

/*
 * Stream chronicle-erasures holds chronicle.redact's receipts
 * (docs/design/erasure.md), which verify() checks redacted events against.  They are chronicle's
 * own events: only redact appends to the stream (events/validate.cpp), and
 * no event-type definition applies to them, whoever made it (a writer's
 * schema for their type could refuse every receipt, and so block every
 * redaction; an upcaster could make every read of them say something else):
 * their append checks no schema and reads return them as stored.
 */
#define EVENT_RECEIPTS_STREAM "chronicle-erasures"
/*
 * On a Citus cluster the receipts of a redaction go to the receipt stream of
 * the redacted stream's shard group, "chronicle-erasures-<n>" (the smallest
 * n >= 1 whose stream hashes into that group: events_receipts_stream), so
 * that the receipt is written on the node of the events it describes, in
 * the same local transaction (docs/design/citus.md).  Those names are
 * reserved on a distributed store only (events_distributed, read.cpp): one
 * server reserves "chronicle-erasures" alone, as before.
 */
#define EVENT_RECEIPTS_PREFIX EVENT_RECEIPTS_STREAM "-"
bool event_row_distributed_receipts(void);
static inline bool event_row_is_receipt(const char *stream_id, int len)
{
    if (len == (int)sizeof(EVENT_RECEIPTS_STREAM) - 1 && memcmp(stream_id, EVENT_RECEIPTS_STREAM, len) == 0)
        return true;
    const int plen = (int)sizeof(EVENT_RECEIPTS_PREFIX) - 1;
    if (len <= plen || len > plen + 10 || memcmp(stream_id, EVENT_RECEIPTS_PREFIX, plen) != 0)
        return false;
    for (int i = plen; i < len; i++)
        if (stream_id[i] < '0' || stream_id[i] > '9')
            return false;
    return event_row_distributed_receipts();
}

/*
 * heap_deform_tuple for the first natts columns (1..EV_NCOLUMNS) of a
 * chronicle.events tuple WITHOUT NULLs (HeapTupleHasNulls false; every row
 * of the table: its columns are NOT NULL) and with at least natts
 * attributes, whose descriptor event_row_desc_matches(desc, natts).  The
 * values point into the tuple.
 */
static inline void event_row_deform(HeapTupleHeader tup, int natts, Datum *values, bool *isnull)
{
    const char *tp = reinterpret_cast<const char *>(tup) + tup->t_hoff;
    event_row_take_columns<0>(tp, 0, natts, values);
    memset(isnull, 0, natts * sizeof(bool));
}
