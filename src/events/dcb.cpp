/*
 * dcb.cpp: queries over types and tags (docs/reference/dcb.md): chronicle.read_query,
 * and the condition of chronicle.append_events (append_events.cpp calls
 * events_condition_check).  docs/design/dcb.md explains the locking.
 *
 * A query is {"items": [{"types": [...], "tags": [...]}, ...]}: an item
 * matches an event whose type is one of "types" (any type when absent) and
 * whose tags include every tag of "tags" (any tags when absent); items are
 * OR-ed.  It becomes one SQL statement whose shape (the number of items and
 * which of types/tags each has) fixes its text; the values are parameters,
 * so a shape's plan is prepared once per backend and kept (a small cache).
 * A tags test is written as `tags <> '{}' AND tags @> $n`, the predicate of
 * the partial GIN index events_tags_idx followed by the indexable test.
 */
#include "events/events.h"
#include "pg/spi.h"
#include "errors.h"
#include "pg/boundary.h"
#include "pg/result_memory.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/xid8.h"
}

#define QUERY_MAX_ITEMS 64
#define ITEM_MAX_VALUES 64
/* read_query keeps a page of up to this many rows in memory to order it (events_read_sorted_into). */
#define SORTED_IN_MEMORY_MAX 10000

struct QueryItem
{
    ArrayType *types; /* text[] or NULL */
    ArrayType *tags;  /* text[] or NULL */
};

struct EventQuery
{
    int nitems;
    QueryItem *items;
};

namespace {

/* One of an item's "types" or "tags": a non-empty JSON array of non-empty strings. */
ArrayType *parse_values(JsonbValue *value, const char *what, int item, const char *key)
{
    if (value->type != jbvBinary || !JsonContainerIsArray(value->val.binary.data) ||
        JsonContainerSize(value->val.binary.data) == 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("%s: items[%d].%s must be a non-empty JSON array of strings", what,
                                   item, key));
    JsonbContainer *c = value->val.binary.data;
    int n = (int)JsonContainerSize(c);
    if (n > ITEM_MAX_VALUES)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("%s: items[%d].%s has %d values", what, item, key, n),
                        pg::format("An item has at most %d types and %d tags.", ITEM_MAX_VALUES,
                                   ITEM_MAX_VALUES));
    Datum *values = (Datum *)palloc(sizeof(Datum) * n);
    for (int i = 0; i < n; i++)
    {
        JsonbValue *v = getIthJsonbValueFromContainer(c, i);
        if (v->type != jbvString || v->val.string.len == 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("%s: items[%d].%s[%d] must be a non-empty string", what, item,
                                       key, i));
        if (strcmp(key, "tags") == 0)
            events_check_query_tag(v->val.string.val, v->val.string.len, what, item, i);
        values[i] = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
    }
    return construct_array(values, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* The text of the i-th element of a text[] without NULLs. */
void array_element(ArrayType *a, int i, const char **s, int *len)
{
    const char *p = ARR_DATA_PTR(a);
    for (int k = 0; k < i; k++)
    {
        p = att_addlength_pointer(p, -1, p);
        p = (const char *)att_align_nominal(p, TYPALIGN_INT);
    }
    *s = VARDATA_ANY(p);
    *len = VARSIZE_ANY_EXHDR(p);
}

int array_length1(ArrayType *a)
{
    return ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
}

/* Does every item name tags (so that the tag index can find all matches)? */
bool all_tagged(const EventQuery *q)
{
    for (int i = 0; i < q->nitems; i++)
        if (q->items[i].tags == NULL)
            return false;
    return true;
}

/*
 * The statement for a query's shape.  Parameters, unless `unordered`: $1
 * after_tx, $2 after_position, $3 the row limit, and without `horizon` $4
 * the event_ids to leave out (the condition check, which reads every
 * committed event instead of read_all's horizon, and leaves out the events of
 * the append's own event_ids: a retry of an append that committed is a
 * no-op, as in append_batch); then each item's types and tags.
 *
 * When every item names tags, the matches are found through the tag index,
 * whatever the planner guesses about the tags (a guess it would otherwise
 * make at every call: estimating a tag from the index's statistics costs more
 * than reading a hundred events), and it can never prefer reading the log in
 * order hoping for an early match, which for a condition that matches
 * nothing (the usual case) means reading the whole log after the position,
 * nor AND the tag index with a range of the log index.  Either the statement
 * is the search alone (`unordered`: no position, horizon, order or limit, all
 * of which the caller applies to the rows, events_read_sorted_into), or the
 * search sits under OFFSET 0 and only its rows are filtered and sorted.  The
 * price: a page of a tag with very many events reads all of them
 * (docs/design/dcb.md).  A query with an item of types only reads the log in
 * order, as read_all does.  Returns the columns `outer` names (of the inner
 * `columns`).
 */
char *query_sql(const EventQuery *q, bool horizon, bool unordered, const char *columns, const char *outer,
                int *nargs, Oid *argtypes)
{
    bool fenced = all_tagged(q) && !unordered;
    StringInfoData sql;
    initStringInfo(&sql);
    int n = 0;
    if (unordered)
        appendStringInfo(&sql, "SELECT %s FROM chronicle.events e WHERE (", outer);
    else
    {
        if (fenced)
            appendStringInfo(&sql, "SELECT %s FROM (", outer);
        appendStringInfo(&sql,
                         "SELECT %s FROM chronicle.events e "
                         "WHERE (e.tx_id, e.global_position) OPERATOR(pg_catalog.>) ($1, $2) ",
                         fenced ? columns : outer);
        argtypes[0] = XID8OID;
        argtypes[1] = INT8OID;
        argtypes[2] = INT8OID;
        n = 3;
        /*
         * The horizon as read_all writes it: a parameter here would let a
         * generic plan AND the tag index with a range of events_log_idx.
         */
        if (horizon)
            appendStringInfoString(&sql, "AND e.tx_id OPERATOR(pg_catalog.<) "
                                         "pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) ");
        else
        {
            argtypes[n++] = UUIDARRAYOID;
            appendStringInfoString(&sql, "AND e.event_id OPERATOR(pg_catalog.<>) ALL ($4) ");
        }
        appendStringInfoString(&sql, "AND (");
    }
    for (int i = 0; i < q->nitems; i++)
    {
        const QueryItem *item = &q->items[i];
        appendStringInfoString(&sql, i == 0 ? "(" : " OR (");
        if (item->types != NULL)
        {
            argtypes[n++] = TEXTARRAYOID;
            appendStringInfo(&sql, "e.type OPERATOR(pg_catalog.=) ANY ($%d)", n);
        }
        if (item->tags != NULL)
        {
            argtypes[n++] = TEXTARRAYOID;
            appendStringInfo(&sql,
                             "%se.tags OPERATOR(pg_catalog.<>) '{}'::pg_catalog.text[] "
                             "AND e.tags OPERATOR(pg_catalog.@>) $%d",
                             item->types != NULL ? " AND " : "", n);
        }
        appendStringInfoChar(&sql, ')');
    }
    if (unordered)
        appendStringInfoChar(&sql, ')');
    else if (fenced)
        appendStringInfoString(&sql, ") OFFSET 0) e ORDER BY e.tx_id, e.global_position LIMIT $3");
    else
        appendStringInfoString(&sql, ") ORDER BY e.tx_id, e.global_position LIMIT $3");
    *nargs = n;
    return sql.data;
}

/* Kept plans by statement text: a few shapes cover an application's queries. */
#define PLAN_CACHE_SIZE 32
struct CachedPlan
{
    char *sql;
    SPIPlanPtr plan;
};
CachedPlan plan_cache[PLAN_CACHE_SIZE];
int plan_cache_used;

/* The plan for sql (SPI connected); *transient when the caller must free it. */
SPIPlanPtr shape_plan(const char *sql, int nargs, const Oid *argtypes, int cursor_options, bool *transient)
{
    *transient = false;
    for (int i = 0; i < plan_cache_used; i++)
        if (strcmp(plan_cache[i].sql, sql) == 0)
            return plan_cache[i].plan;
    if (plan_cache_used < PLAN_CACHE_SIZE)
    {
        CachedPlan *c = &plan_cache[plan_cache_used];
        pg::spi::kept_plan(&c->plan, sql, nargs, argtypes, cursor_options);
        c->sql = MemoryContextStrdup(TopMemoryContext, sql);
        plan_cache_used++;
        return c->plan;
    }
    SPIPlanPtr plan = pg::spi::prepare(sql, nargs, argtypes, cursor_options);
    *transient = true;
    return plan;
}

/*
 * Arguments for query_sql's parameters: first, unless `unordered`, the
 * position, the limit and the event_ids to leave out (own_ids, the condition
 * check's); then the items'.
 */
void query_args(const EventQuery *q, bool unordered, Datum after_tx, int64 after_position, int64 limit,
                ArrayType *own_ids, Datum *args)
{
    int n = 0;
    if (!unordered)
    {
        args[n++] = after_tx;
        args[n++] = Int64GetDatum(after_position);
        args[n++] = Int64GetDatum(limit);
        if (own_ids != NULL)
            args[n++] = PointerGetDatum(own_ids);
    }
    for (int i = 0; i < q->nitems; i++)
    {
        if (q->items[i].types != NULL)
            args[n++] = PointerGetDatum(q->items[i].types);
        if (q->items[i].tags != NULL)
            args[n++] = PointerGetDatum(q->items[i].tags);
    }
}

} // namespace

EventQuery *events_query_parse(Jsonb *query, const char *what)
{
    if (!JB_ROOT_IS_OBJECT(query) || JB_ROOT_IS_SCALAR(query))
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("%s must be a JSON object {\"items\": [...]}", what));
    JsonbIterator *it = JsonbIteratorInit(&query->root);
    JsonbValue key, value;
    JsonbIteratorToken token;
    JsonbValue items;
    memset(&items, 0, sizeof(items));
    bool have_items = false;
    while ((token = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
    {
        if (token != WJB_KEY)
            continue;
        (void)JsonbIteratorNext(&it, &value, true);
        if (key.val.string.len == 5 && memcmp(key.val.string.val, "items", 5) == 0)
        {
            items = value;
            have_items = true;
        }
        else
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("%s has an unknown key \"%.*s\"", what, key.val.string.len,
                                       key.val.string.val),
                            "A query is {\"items\": [{\"types\": [...], \"tags\": [...]}, ...]}.");
    }
    if (!have_items || items.type != jbvBinary || !JsonContainerIsArray(items.val.binary.data) ||
        JsonContainerSize(items.val.binary.data) == 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("%s needs \"items\": a non-empty JSON array", what),
                        "A query is {\"items\": [{\"types\": [...], \"tags\": [...]}, ...]}.");
    int n = (int)JsonContainerSize(items.val.binary.data);
    if (n > QUERY_MAX_ITEMS)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("%s has %d items", what, n),
                        pg::format("A query has at most %d items.", QUERY_MAX_ITEMS));

    EventQuery *q = (EventQuery *)palloc0(sizeof(EventQuery));
    q->nitems = n;
    q->items = (QueryItem *)palloc0(sizeof(QueryItem) * n);
    for (int i = 0; i < n; i++)
    {
        JsonbValue *element = getIthJsonbValueFromContainer(items.val.binary.data, i);
        if (element->type != jbvBinary || !JsonContainerIsObject(element->val.binary.data))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("%s: items[%d] must be a JSON object", what, i));
        JsonbIterator *eit = JsonbIteratorInit(element->val.binary.data);
        while ((token = JsonbIteratorNext(&eit, &key, true)) != WJB_DONE)
        {
            if (token != WJB_KEY)
                continue;
            (void)JsonbIteratorNext(&eit, &value, true);
            const char *k = key.val.string.val;
            int klen = key.val.string.len;
            if (klen == 5 && memcmp(k, "types", 5) == 0)
                q->items[i].types = parse_values(&value, what, i, "types");
            else if (klen == 4 && memcmp(k, "tags", 4) == 0)
                q->items[i].tags = parse_values(&value, what, i, "tags");
            else
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("%s: items[%d] has an unknown key \"%.*s\"", what, i, klen, k),
                                "An item has \"types\", \"tags\" or both.");
        }
        if (q->items[i].types == NULL && q->items[i].tags == NULL)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("%s: items[%d] names neither types nor tags", what, i),
                            "An item has \"types\", \"tags\" or both.");
    }
    return q;
}

/*
 * The condition's exclusive keys, added to the call's key set (dcb_locks.cpp):
 * per item, the key of its first tag (an event it matches carries that tag,
 * so its writer holds the tag's shared key), or, for an item without tags,
 * the key of each type.
 */
void events_query_lock(const EventQuery *q, DcbKeySet *set)
{
    for (int i = 0; i < q->nitems; i++)
    {
        const QueryItem *item = &q->items[i];
        const char *s;
        int len;
        if (item->tags != NULL)
        {
            array_element(item->tags, 0, &s, &len);
            events_keys_condition(set, s, len, true);
        }
        else
            for (int t = 0; t < array_length1(item->types); t++)
            {
                array_element(item->types, t, &s, &len);
                events_keys_condition(set, s, len, false);
            }
    }
}

bool events_condition_check(const EventQuery *q, Datum after_tx, int64 after_position, ArrayType *own_ids,
                            ConditionHit *hit)
{
    int nargs;
    Oid argtypes[4 + 2 * QUERY_MAX_ITEMS];
    Datum args[4 + 2 * QUERY_MAX_ITEMS];
    char *sql = query_sql(q, false, false, "e.stream_id, e.version, e.global_position, e.tx_id",
                          "e.stream_id, e.version, e.global_position", &nargs, argtypes);
    query_args(q, false, after_tx, after_position, 1, own_ids, args);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    /* One generic plan per shape (see query_sql): no planning per append. */
    bool transient;
    SPIPlanPtr plan = shape_plan(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN, &transient);
    /*
     * A snapshot taken now, after the condition's locks were granted: every
     * matching event of a transaction that held a shared key has committed
     * (or aborted) by now, and READ COMMITTED, REPEATABLE READ and
     * SERIALIZABLE alike see it here (the transaction's own snapshot may be
     * older).  Events written later wait for our exclusive keys.
     */
    int rc = pg::spi::execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: condition check failed: %s", SPI_result_code_string(rc));
    bool found = SPI_processed > 0;
    if (found)
    {
        bool isnull;
        HeapTuple row = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        char *stream = SPI_getvalue(row, desc, 1);
        hit->stream_id = (char *)SPI_palloc(strlen(stream) + 1); /* the caller's memory */
        strcpy(hit->stream_id, stream);
        hit->version = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
        hit->position = DatumGetInt64(SPI_getbinval(row, desc, 3, &isnull));
    }
    if (transient)
        SPI_freeplan(plan);
    SPI_finish();
    return found;
}

/*
 * Are all of these event_ids in the log (committed, seen with a snapshot taken
 * now)?  Then a conditional append_events that gives them is a retry of one
 * that committed: its decision stands, and it returns the stored rows instead
 * of failing on an event appended after it (append_stream sees the repeats).
 */
bool events_all_stored(ArrayType *ids)
{
    static SPIPlanPtr plan;
    static const Oid argtypes[1] = {UUIDARRAYOID};
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr p = pg::spi::kept_plan(&plan,
                                      "SELECT NOT EXISTS (SELECT FROM unnest($1) i(id) WHERE NOT EXISTS "
                                      "(SELECT FROM chronicle.events e WHERE e.event_id = i.id))",
                                      1, argtypes);
    Datum args[1] = {PointerGetDatum(ids)};
    int rc = pg::spi::execute_snapshot(p, args, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
    if (rc != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "chronicle: stored event_id lookup failed: %s", SPI_result_code_string(rc));
    bool isnull;
    bool all = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    SPI_finish();
    return all && !isnull;
}

/* chronicle.read_query(query, after_tx, after_position, max_count) */
SQL_FUNCTION(chronicle_read_query)
{
        if (PG_ARGISNULL(0))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "query must not be NULL");
        int32 max_count = PG_ARGISNULL(3) ? 1000 : PG_GETARG_INT32(3);
        if (max_count < 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("max_count must not be negative (got %d)", max_count));
        EventQuery *q = events_query_parse(PG_GETARG_JSONB_P(0), "query");
        Datum after_tx = PG_ARGISNULL(1) ? FullTransactionIdGetDatum(FullTransactionIdFromU64(0)) : PG_GETARG_DATUM(1);
        int64 after_position = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);

        /*
         * When every item names tags, the tag index finds the matches, in no
         * order: those after the position and below the horizon, and of
         * those the first max_count in log order, are kept here (a bounded
         * heap) rather than by a Filter and a Sort node.  A page too large to
         * keep in memory is sorted by the statement instead (it may spill).
         */
        bool unordered = all_tagged(q) && max_count <= SORTED_IN_MEMORY_MAX;
        int nargs;
        Oid argtypes[4 + 2 * QUERY_MAX_ITEMS];
        Datum args[4 + 2 * QUERY_MAX_ITEMS];
        char *sql = query_sql(q, true, unordered, EVENTS_COLUMNS, EVENTS_COLUMNS, &nargs, argtypes);

        Tuplestorestate *store = pg::begin_warm_result(fcinfo);
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "chronicle: SPI_connect failed");
        /* After SPI_connect: the snapshot the read-only plan runs with is the active one. */
        FullTransactionId horizon = events_horizon();
        query_args(q, unordered, after_tx, after_position, max_count, NULL, args);
        /* One generic plan per shape (see query_sql), as read_all's log and types shapes. */
        bool transient;
        SPIPlanPtr plan;
        if (events_distributed())
        {
            /* A Citus node's own log, as read_all reads it there (docs/design/citus.md). */
            plan = pg::spi::prepare(events_node_log_sql(sql), nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
            transient = true;
        }
        else
            plan = shape_plan(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN, &transient);
        if (unordered)
        {
            EventsLogRange range = {U64FromFullTransactionId(DatumGetFullTransactionId(after_tx)), after_position,
                                    U64FromFullTransactionId(horizon)};
            events_read_sorted_into(plan, nargs, argtypes, args, NULL, &range, max_count, store);
        }
        else
            events_read_into(plan, nargs, argtypes, args, NULL, store);
        if (transient)
            SPI_freeplan(plan);
        SPI_finish();
        return (Datum)0;
}
