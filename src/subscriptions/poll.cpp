/*
 * poll.cpp: chronicle.poll(name, max_count, member, members) (docs/reference/subscriptions.md).
 *
 * poll returns the events after the member's checkpoint in read_all order,
 * (tx_id, global_position), under read_all's horizon: only events whose
 * transaction id is below pg_snapshot_xmin(pg_current_snapshot()), the set
 * that no transaction can still add to (docs/design/event-store.md, "Why `read_all` never
 * skips an event").  A consumer that acks the last event it processed thus
 * never passes over an event that commits later.  Filters of the
 * subscription, the member's share of the streams and the parked events are
 * tests in the same indexed query, so a page holds max_count matching events
 * however many others lie between them.
 *
 * poll only reads (as the caller: chronicle_reader's SELECT on the tables),
 * so it works on a hot standby, except when it is given a new group size:
 * then it calls chronicle._subscription_resize (a write, 25006 there).
 *
 * On a Citus cluster (docs/design/citus.md, "Subscriptions on a cluster")
 * each node holding shards has a log of its own, and a member a checkpoint
 * per node (subscription_checkpoints.node, the Citus group id; 0 on one
 * server).  poll on such a node reads that node's log after the member's
 * checkpoint for it, over the shards placed there, under the node's own
 * horizon; chronicle._poll_node does the same from a position and filters
 * given by chronicle.poll_nodes on the coordinator, which merges the nodes'
 * pages.
 *
 * Only a member of the subscription's owning role (or a superuser) may poll
 * it (owner.cpp), checked first; a resize checks again on the locked row.
 * _poll_node is granted to nobody: poll_nodes' body (SECURITY DEFINER,
 * after it checked its caller) runs it on the nodes in connections of
 * chronicle's owner; any other role that runs it gets the same check there.
 *
 * src/subscriptions (this file, member.cpp, owner.cpp and forget.cpp) is
 * C-style (pg/boundary.h).
 */
#include "errors.h"
#include "events/events.h"
#include "events/read.h"
#include "pg/boundary.h"
#include "pg/spi.h"
#include "pg/citus.h"
#include "pg/owner.h"
#include "pg/result_memory.h"
#include "row/event_row.h"
#include "subscriptions/owner.h"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"
}

namespace {

const int MAX_MEMBERS = 1024; /* chronicle.subscriptions' CHECK */

/* The subscription and the member's checkpoint on node $3 (a member that
 * never acked there stands at the subscription's start position). */
const char *const STATE_SQL =
    "SELECT s.category, s.types, s.members, "
    "COALESCE(c.tx_id, s.start_tx_id), "
    "COALESCE(c.global_position, s.start_position), "
    "EXISTS (SELECT FROM chronicle.parked p WHERE p.subscription OPERATOR(pg_catalog.=) s.name) "
    "FROM chronicle.subscriptions s LEFT JOIN chronicle.subscription_checkpoints c "
    "ON c.subscription OPERATOR(pg_catalog.=) s.name AND c.member OPERATOR(pg_catalog.=) $2 "
    "AND c.node OPERATOR(pg_catalog.=) $3 "
    "WHERE s.name OPERATOR(pg_catalog.=) $1";

const char *const RESIZE_SQL = "SELECT chronicle._subscription_resize($1, $2)";

/*
 * The page.  The first two conditions are read_all's, word for word: the
 * position test and the horizon.  Parameters: $1 after_tx, $2 after_position,
 * $3 the page size, $4 category, $5 types, $6 members, $7 member, $8 the
 * subscription; a shape leaves out the tests it does not need (no filter, one
 * member, nothing parked), so the common poll is read_all's plain log query.
 */
#define POLL_HEAD                                                                         \
    "SELECT " EVENTS_COLUMNS " FROM chronicle.events e "                                  \
    "WHERE (e.tx_id, e.global_position) OPERATOR(pg_catalog.>) ($1, $2) "                 \
    "AND e.tx_id OPERATOR(pg_catalog.<) "                                                 \
    "pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) "
#define POLL_CATEGORY "AND pg_catalog.split_part(e.stream_id, '-', 1) OPERATOR(pg_catalog.=) $4 "
#define POLL_TYPES "AND e.type OPERATOR(pg_catalog.=) ANY ($5) "
#define POLL_MEMBER "AND chronicle._stream_member(e.stream_id, $6) OPERATOR(pg_catalog.=) $7 "
#define POLL_PARKED                                                                       \
    "AND NOT EXISTS (SELECT " POLL_PARKED_TABLE                                           \
    "WHERE p.subscription OPERATOR(pg_catalog.=) $8 "                                     \
    "AND p.event_id OPERATOR(pg_catalog.=) e.event_id) "
#define POLL_TAIL "ORDER BY e.tx_id, e.global_position LIMIT $3"
#define POLL_PARKED_TABLE "FROM chronicle.parked p "

enum PollShape
{
    BY_CATEGORY = 1,
    BY_TYPES = 2,
    BY_MEMBER = 4,
    SKIP_PARKED = 8,
    N_SHAPES = 16
};

SPIPlanPtr state_plan;
SPIPlanPtr resize_plan;
SPIPlanPtr poll_plans[N_SHAPES];

const Oid PAGE_ARGTYPES[8] = {XID8OID, INT8OID, INT8OID, TEXTOID, TEXTARRAYOID, INT4OID, INT4OID, TEXTOID};

char *poll_sql(int shape)
{
    return psprintf("%s%s%s%s%s%s", POLL_HEAD, (shape & BY_CATEGORY) ? POLL_CATEGORY : "",
                    (shape & BY_TYPES) ? POLL_TYPES : "", (shape & BY_MEMBER) ? POLL_MEMBER : "",
                    (shape & SKIP_PARKED) ? POLL_PARKED : "", POLL_TAIL);
}

int poll_cursor_options(int shape)
{
    return (shape & BY_CATEGORY) ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN;
}

/*
 * A shape's plan.  As in read_all: without a category one generic plan (a
 * Limit over events_log_idx, the other tests as filters) serves every call;
 * a category is planned for its value, since a generic plan cannot tell a
 * rare category (events_category_log_idx) from one that is most of the log.
 */
SPIPlanPtr poll_plan(int shape)
{
    if (poll_plans[shape] != NULL)
        return poll_plans[shape];
    char *sql = poll_sql(shape);
    SPIPlanPtr plan = pg::spi::kept_plan(&poll_plans[shape], sql, 8, PAGE_ARGTYPES, poll_cursor_options(shape));
    pfree(sql);
    return plan;
}

/*
 * A shape's plan on a Citus node: the same statement over the shards of
 * chronicle.events placed here and the local placement of chronicle.parked
 * (a reference table), named directly, so that Citus plans nothing and the
 * horizon is this node's (as read_all's, src/events/read.cpp).  Prepared per
 * call: placements change with rebalancing.  Not kept (SPI_finish frees it).
 */
SPIPlanPtr node_poll_plan(int shape)
{
    char *sql = events_node_log_sql(poll_sql(shape));
    if (shape & SKIP_PARKED)
    {
        char *parked = pg::citus::local_shards_from_item(
            get_relname_relid("parked", get_namespace_oid("chronicle", false)));
        const char *at = strstr(sql, POLL_PARKED_TABLE);
        if (parked == NULL || at == NULL)
            elog(ERROR, "chronicle: no local placement of chronicle.parked on this node");
        sql = psprintf("%.*sFROM %s p %s", (int)(at - sql), sql, parked, at + strlen(POLL_PARKED_TABLE));
    }
    return pg::spi::prepare(sql, 8, PAGE_ARGTYPES, poll_cursor_options(shape));
}

struct PollState
{
    Datum category, types, after_tx, after_position;
    bool no_category, no_types;
    int32 members;
    bool has_parked;
};

/* The subscription's state for member on node; false when it does not exist. */
bool read_state(text *name, int32 member, int32 node, bool read_only, PollState *st)
{
    static const Oid argtypes[3] = {TEXTOID, INT4OID, INT4OID};
    SPIPlanPtr plan = pg::spi::kept_plan(&state_plan, STATE_SQL, 3, argtypes, 0);
    Datum args[3] = {PointerGetDatum(name), Int32GetDatum(member), Int32GetDatum(node)};
    if (pg::spi::execute_plan(plan, args, NULL, read_only, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the subscription failed");
    if (SPI_processed == 0)
        return false;
    HeapTuple tuple = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    st->category = SPI_getbinval(tuple, desc, 1, &st->no_category);
    st->types = SPI_getbinval(tuple, desc, 2, &st->no_types);
    st->members = DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull));
    st->after_tx = SPI_getbinval(tuple, desc, 4, &isnull);
    st->after_position = SPI_getbinval(tuple, desc, 5, &isnull);
    st->has_parked = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));
    return true;
}

/* The page after st's position into store (SPI connected). */
void read_page(Tuplestorestate *store, const PollState *st, text *name, int32 max_count, int32 member,
               int32 members, bool on_node)
{
    int shape = (st->no_category ? 0 : BY_CATEGORY) | (st->no_types ? 0 : BY_TYPES) |
                (members > 1 ? BY_MEMBER : 0) | (st->has_parked ? SKIP_PARKED : 0);
    SPIPlanPtr plan = on_node ? node_poll_plan(shape) : poll_plan(shape);
    Datum args[8] = {st->after_tx, st->after_position, Int64GetDatum(max_count),
                     st->category, st->types, Int32GetDatum(members),
                     Int32GetDatum(member), PointerGetDatum(name)};
    char nulls[8] = {' ', ' ', ' ', st->no_category ? 'n' : ' ', st->no_types ? 'n' : ' ', ' ', ' ', ' '};
    events_read_into(plan, 8, PAGE_ARGTYPES, args, nulls, store);
}

/* false: the subscription does not exist. */
bool poll_into_result(FunctionCallInfo fcinfo, text *name, int32 max_count, int32 member, int32 members,
                      bool on_node)
{
    int32 node = on_node ? pg::citus::local_group() : 0;
    Tuplestorestate *store = pg::begin_warm_result(fcinfo);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");

    PollState st;
    if (!read_state(name, member, node, true, &st))
    {
        SPI_finish();
        return false;
    }
    if (st.members != members)
    {
        /* A new group size: every member restarts at the old group's lowest checkpoint. */
        static const Oid argtypes[2] = {TEXTOID, INT4OID};
        Datum args[2] = {PointerGetDatum(name), Int32GetDatum(members)};
        if (pg::spi::execute_plan(pg::spi::kept_plan(&resize_plan, RESIZE_SQL, 2, argtypes, 0), args, NULL, false, 1) !=
            SPI_OK_SELECT)
            elog(ERROR, "chronicle: changing the group size failed");
        if (!read_state(name, member, node, false, &st))
        {
            SPI_finish();
            return false;
        }
    }
    read_page(store, &st, name, max_count, member, members, on_node);
    SPI_finish();
    return true;
}

/* On a Citus cluster: is chronicle.events distributed, and does this node hold none of it? */
bool distributed_without_log(bool *distributed)
{
    *distributed = events_distributed();
    return *distributed &&
           pg::citus::local_shards_from_item(get_relname_relid("events", get_namespace_oid("chronicle", false))) ==
               NULL;
}

void check_page_args(int32 max_count, int32 member, int32 members)
{
    if (max_count < 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("max_count must not be negative (got %d)", max_count));
    if (members < 1 || members > MAX_MEMBERS)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("members must be between 1 and %d (got %d)", MAX_MEMBERS, members));
    if (member < 0 || member >= members)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("member must be between 0 and members - 1 = %d (got %d)", members - 1, member));
}

} // namespace

/*
 * chronicle.poll(name, max_count, member, members).  NULL max_count, member
 * and members mean their defaults (100, 0, 1), as read_all's do.
 */
SQL_FUNCTION(chronicle_poll)
{
        if (PG_ARGISNULL(0))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "subscription name must not be NULL");
        int32 max_count = PG_ARGISNULL(1) ? 100 : PG_GETARG_INT32(1);
        int32 member = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
        int32 members = PG_ARGISNULL(3) ? 1 : PG_GETARG_INT32(3);
        /*
         * On a Citus cluster the log is per node: poll reads this node's
         * (docs/design/citus.md).  A node holding no shard (the coordinator,
         * usually) has none; a poll there over the whole cluster would mix
         * the nodes' transaction ids, and its rows could not say which
         * node's checkpoint an ack should move: that is poll_nodes.
         */
        bool distributed;
        if (distributed_without_log(&distributed))
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "this node holds no shard of chronicle.events: it has no log to poll",
                            "On a Citus cluster each node has a log of its own, and a subscription a checkpoint "
                            "per node.",
                            "Poll every node's log with chronicle.poll_nodes(), or poll on a worker.");
        check_page_args(max_count, member, members);
        text *name = PG_GETARG_TEXT_PP(0);
        /* subscribe's rule (a longer name cannot exist), checked before it goes into a message */
        int name_chars = pg_mbstrlen_with_len(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
        if (name_chars < 1 || name_chars > 255)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("subscription name must have 1 to 255 characters (got %d)", name_chars));
        subscription_check_owner(name, "poll it");
        if (!poll_into_result(fcinfo, name, max_count, member, members, distributed))
        {
            char *shown = text_to_cstring(name);
            throw pg::Error(CHRONICLE_UNKNOWN_SUBSCRIPTION,
                            pg::format("subscription \"%s\" does not exist", shown));
        }
        return (Datum)0;
}

/*
 * chronicle._poll_node(name, after_tx, after_position, max_count, member,
 * members, category, types): one node's page of a subscription on a Citus
 * cluster, run there by chronicle.poll_nodes (src/citus/citus.sql) with the
 * position and filters the coordinator read in its own transaction (a
 * checkpoint acked or a group resized there, not yet committed, is what
 * counts).  The events of the shards placed on this node after the
 * position, under this node's horizon, not parked (as committed here), in
 * (tx_id, global_position) order.
 */
SQL_FUNCTION(chronicle_poll_node)
{
        for (int i = 0; i < 6; i++)
            if (PG_ARGISNULL(i))
                throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                                "name, after_tx, after_position, max_count, member and members must not be NULL");
        text *name = PG_GETARG_TEXT_PP(0);
        int32 max_count = PG_GETARG_INT32(3);
        int32 member = PG_GETARG_INT32(4);
        int32 members = PG_GETARG_INT32(5);
        /*
         * Granted to nobody: poll_nodes' body runs it here in a connection of
         * chronicle's owner (the owner of this function), after it checked
         * its own caller.  Anyone else who can run it (a superuser, or a role
         * someone granted it to) gets poll's owner check, here on this node:
         * it may not read another role's subscription through it.  Against
         * this node's committed row: a subscription made in the coordinator's
         * transaction is not here yet, and has no other owner to protect.
         */
        if (GetUserId() != pg::function_owner(fcinfo))
            subscription_check_owner(name, "poll it");
        bool distributed;
        if (distributed_without_log(&distributed) || !distributed)
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            "chronicle._poll_node reads a node's log on a Citus cluster, and this node has none",
                            "", "Use chronicle.poll (one server) or chronicle.poll_nodes (the coordinator).");
        check_page_args(max_count, member, members);
        PollState st;
        st.after_tx = PG_GETARG_DATUM(1);
        st.after_position = PG_GETARG_DATUM(2);
        st.no_category = PG_ARGISNULL(6);
        st.category = st.no_category ? (Datum)0 : PG_GETARG_DATUM(6);
        st.no_types = PG_ARGISNULL(7);
        st.types = st.no_types ? (Datum)0 : PG_GETARG_DATUM(7);
        st.members = members;
        st.has_parked = true; /* the anti-join on parked's key, whatever it holds */
        Tuplestorestate *store = pg::begin_warm_result(fcinfo);
        if (SPI_connect() != SPI_OK_CONNECT)
            elog(ERROR, "chronicle: SPI_connect failed");
        read_page(store, &st, name, max_count, member, members, true);
        SPI_finish();
        return (Datum)0;
}
