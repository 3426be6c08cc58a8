/*
 * citus.cpp: finding the local shard of a stream (citus.h).
 *
 * Citus's own SQL functions answer, through the one SQL door (spi.h):
 * get_shard_id_for_distribution_column() hashes the value as the planner
 * does, shard_name() gives the shard's qualified name, pg_dist_placement
 * says whether this node holds it (a worker; the coordinator when it holds
 * shards), and to_regclass() finds it there.  Reference tables have one shard placed everywhere but are only
 * ever written through SQL, so they are reported as "not distributed" by
 * local_placement and as Citus tables by is_citus_table.
 */
#include "pg/citus.h"
#include "pg/spi.h"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

namespace pg::citus {

namespace {

/*
 * "Shard $id has a placement on this node": pg_dist_placement, by this node's
 * group (pg_dist_local_group).  A relation of a shard's name proves nothing:
 * a role that may create tables in the distributed table's schema can create
 * one on a node that holds no placement of that shard (the coordinator), and
 * chronicle would then work on, and run the triggers of, that role's table.
 */
#define LOCAL_PLACEMENT(id)                                                                         \
    "EXISTS (SELECT FROM pg_catalog.pg_dist_placement pl WHERE pl.shardid OPERATOR(pg_catalog.=) " id \
    " AND pl.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g))"

SPIPlanPtr placement_plan;
SPIPlanPtr citus_table_plan;
SPIPlanPtr local_shards_plan;
SPIPlanPtr local_group_plan;

/* Qualified names: the pinned search_path holds no schema but pg_catalog. */
const char *const LOCAL_SHARDS_SQL =
    "SELECT x.r::pg_catalog.text FROM (SELECT pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, "
    "s.shardid)) AS r FROM pg_catalog.pg_dist_shard s "
    "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1 AND " LOCAL_PLACEMENT("s.shardid") ") x "
    "WHERE x.r IS NOT NULL ORDER BY 1";

/*
 * partmethod 'h' (hash-distributed); for it the local shard or NULL.  No row:
 * not a Citus table (or a reference/local one, partmethod 'n').
 */
const char *const PLACEMENT_SQL =
    "SELECT p.partmethod OPERATOR(pg_catalog.=) 'h', "
    "CASE WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' THEN "
    "(SELECT pg_catalog.to_regclass(pg_catalog.shard_name(p.logicalrelid, x.id, false))::pg_catalog.oid "
    "FROM (SELECT pg_catalog.get_shard_id_for_distribution_column(p.logicalrelid, $2) AS id) x "
    "WHERE " LOCAL_PLACEMENT("x.id") ") END "
    "FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1";

/*
 * A shard's name is its table's name and "_<shardid>": the id picks the one
 * row of pg_dist_shard, the name that row gives must be relid's own, and the
 * shard must be placed on this node (a table that only looks like a shard is
 * none).
 */
const char *const SHARD_PARENT_SQL =
    "SELECT p.logicalrelid::pg_catalog.oid, p.partmethod, CASE WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' "
    "THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END "
    "FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_partition p "
    "ON p.logicalrelid OPERATOR(pg_catalog.=) s.logicalrelid "
    "WHERE s.shardid OPERATOR(pg_catalog.=) $1 "
    "AND pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid, false))::pg_catalog.oid "
    "OPERATOR(pg_catalog.=) $2 AND " LOCAL_PLACEMENT("s.shardid");

const char *const TABLE_METHOD_SQL =
    "SELECT p.partmethod, CASE WHEN p.partmethod OPERATOR(pg_catalog.=) 'h' "
    "THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END, p.repmodel "
    "FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1";

const char *const IS_COORDINATOR_SQL =
    "SELECT g.groupid OPERATOR(pg_catalog.=) 0 FROM pg_catalog.pg_dist_local_group g";

const char *const LOCAL_SHARD_OIDS_SQL =
    "SELECT x.r FROM (SELECT pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid, false))"
    "::pg_catalog.oid AS r FROM pg_catalog.pg_dist_shard s "
    "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1 AND " LOCAL_PLACEMENT("s.shardid") ") x "
    "WHERE x.r IS NOT NULL ORDER BY 1";

const char *const PLACEMENT_NODE_SQL =
    "SELECT n.nodename OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) n.nodeport::pg_catalog.text "
    "FROM pg_catalog.pg_dist_placement pl JOIN pg_catalog.pg_dist_node n "
    "ON n.groupid OPERATOR(pg_catalog.=) pl.groupid AND n.noderole OPERATOR(pg_catalog.=) 'primary' "
    "WHERE pl.shardid OPERATOR(pg_catalog.=) pg_catalog.get_shard_id_for_distribution_column($1, $2) "
    "ORDER BY 1 LIMIT 1";

/* Lazily (a set-returning function in the target list is not materialised):
 * the names are tried in order until one lands in value's shard, at most
 * COLOCATED_NAME_TRIES of them (citus.h).  A shard of one hash value (a
 * tenant isolated in it) is not searched: a name lands there only by a
 * 32-bit hash collision, and the whole search takes about 1.5 s (the
 * pseudo-constant test is a one-time filter: no name is tried). */
#define COLOCATED_NAME_TRIES "1000000"
const char *const COLOCATED_NAME_SQL =
    "SELECT x.name FROM (SELECT $3 OPERATOR(pg_catalog.||) "
    "pg_catalog.generate_series(1, " COLOCATED_NAME_TRIES ")::pg_catalog.text AS name) x "
    "WHERE (SELECT d.shardminvalue OPERATOR(pg_catalog.<>) d.shardmaxvalue FROM pg_catalog.pg_dist_shard d "
    "WHERE d.shardid OPERATOR(pg_catalog.=) pg_catalog.get_shard_id_for_distribution_column($1, $2)) "
    "AND pg_catalog.get_shard_id_for_distribution_column($1, x.name) OPERATOR(pg_catalog.=) "
    "(SELECT pg_catalog.get_shard_id_for_distribution_column($1, $2)) LIMIT 1";
SPIPlanPtr colocated_name_plan;

SPIPlanPtr shard_parent_plan;
SPIPlanPtr table_method_plan;
SPIPlanPtr local_shard_oids_plan;
SPIPlanPtr placement_node_plan;
SPIPlanPtr is_coordinator_plan;

const char *const CITUS_TABLE_SQL =
    "SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1";

/*
 * Is citus.so loaded in this backend?  Citus loads only from
 * shared_preload_libraries (its _PG_init refuses anything else) and defines
 * the setting citus.version there, before any query runs.  Without it no
 * Citus code runs here: its planner does not route statements away from the
 * shell tables, and a citus row in pg_extension (left from a server that
 * preloaded it) cannot be used.  A GUC look-up is a binary search in
 * backend memory, where pg_extension is an index scan, and it cannot go
 * stale: the answer is fixed for the backend's life.  (A placeholder
 * citus.version, SET without Citus, only sends the caller to the catalog.)
 */
bool library_loaded()
{
    return GetConfigOption("citus.version", true, false) != NULL;
}

} // namespace

bool installed()
{
    /* Every append asks: the common case, no Citus, costs no catalog access. */
    return library_loaded() && OidIsValid(get_extension_oid("citus", true));
}

bool is_citus_table(Oid relid)
{
    if (!installed())
        return false;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {OIDOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&citus_table_plan, CITUS_TABLE_SQL, 1, argtypes);
    Datum args[1] = {ObjectIdGetDatum(relid)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_partition failed");
    bool found = SPI_processed > 0;
    SPI_finish();
    return found;
}

char *colocated_name(Oid relid, text *value, const char *prefix)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[3] = {OIDOID, TEXTOID, TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&colocated_name_plan, COLOCATED_NAME_SQL, 3, argtypes);
    Datum args[3] = {ObjectIdGetDatum(relid), PointerGetDatum(value), CStringGetTextDatum(prefix)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: looking for a name placed with \"%s\" failed", text_to_cstring(value));
    if (SPI_processed != 1)
    {
        SPI_finish();
        return NULL;
    }
    char *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
    char *result = (char *)SPI_palloc(strlen(name) + 1);
    strcpy(result, name);
    SPI_finish();
    return result;
}

Oid local_placement(Oid relid, text *value, bool *distributed)
{
    *distributed = false;
    if (!installed())
        return relid;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[2] = {OIDOID, TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&placement_plan, PLACEMENT_SQL, 2, argtypes);
    Datum args[2] = {ObjectIdGetDatum(relid), PointerGetDatum(value)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_partition failed");
    Oid result = relid;
    if (SPI_processed > 0)
    {
        bool isnull;
        *distributed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        if (*distributed)
        {
            Datum shard = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
            result = isnull ? InvalidOid : DatumGetObjectId(shard);
        }
    }
    SPI_finish();
    return result;
}

char *local_shards_from_item(Oid relid)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {OIDOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&local_shards_plan, LOCAL_SHARDS_SQL, 1, argtypes);
    Datum args[1] = {ObjectIdGetDatum(relid)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_shard failed");
    if (SPI_processed == 0)
    {
        SPI_finish();
        return NULL;
    }
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfoChar(&sql, '(');
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        char *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
        appendStringInfo(&sql, "%sSELECT * FROM %s", i == 0 ? "" : " UNION ALL ", name);
    }
    appendStringInfoChar(&sql, ')');
    /* SPI_palloc: in the caller's context, which outlives SPI_finish. */
    char *out = (char *)SPI_palloc(sql.len + 1);
    memcpy(out, sql.data, sql.len + 1);
    SPI_finish();
    return out;
}

Oid shard_parent(Oid relid, char *method, char **column)
{
    *method = 0;
    *column = NULL;
    if (!installed())
        return InvalidOid;
    /* "<table>_<shardid>": anything else is no shard (and costs no query). */
    const char *name = get_rel_name(relid);
    if (name == NULL)
        return InvalidOid;
    const char *end = name + strlen(name), *p = end;
    while (p > name && isdigit((unsigned char) p[-1]))
        p--;
    if (p == end || p == name || p[-1] != '_' || end - p > 18)
        return InvalidOid;
    int64 shardid = strtoll(p, NULL, 10);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[2] = {INT8OID, OIDOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&shard_parent_plan, SHARD_PARENT_SQL, 2, argtypes);
    Datum args[2] = {Int64GetDatum(shardid), ObjectIdGetDatum(relid)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_shard failed");
    Oid parent = InvalidOid;
    if (SPI_processed > 0)
    {
        bool isnull;
        HeapTuple tup = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        parent = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
        *method = DatumGetChar(SPI_getbinval(tup, desc, 2, &isnull));
        char *c = SPI_getvalue(tup, desc, 3);
        /* SPI_palloc: in the caller's context, which outlives SPI_finish. */
        if (c)
            *column = strcpy((char *) SPI_palloc(strlen(c) + 1), c);
    }
    SPI_finish();
    return parent;
}

char table_method(Oid relid, char **column, char *repmodel)
{
    *column = NULL;
    if (repmodel)
        *repmodel = 0;
    if (!installed())
        return 0;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {OIDOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&table_method_plan, TABLE_METHOD_SQL, 1, argtypes);
    Datum args[1] = {ObjectIdGetDatum(relid)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_partition failed");
    char method = 0;
    if (SPI_processed > 0)
    {
        bool isnull;
        method = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
        char *c = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
        if (c)
            *column = strcpy((char *) SPI_palloc(strlen(c) + 1), c);
        if (repmodel)
            *repmodel = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
    }
    SPI_finish();
    return method;
}

bool is_coordinator()
{
    if (!installed())
        return false;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = pg::spi::kept_plan(&is_coordinator_plan, IS_COORDINATOR_SQL, 0, NULL);
    if (pg::spi::execute_plan(plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_local_group failed");
    bool isnull = true;
    bool result = SPI_processed > 0 &&
                  DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) && !isnull;
    SPI_finish();
    return result;
}

Oid *local_shards(Oid relid, int *n)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[1] = {OIDOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&local_shard_oids_plan, LOCAL_SHARD_OIDS_SQL, 1, argtypes);
    Datum args[1] = {ObjectIdGetDatum(relid)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_shard failed");
    Oid *out = (Oid *) SPI_palloc(sizeof(Oid) * (SPI_processed + 1));
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        bool isnull;
        out[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
    }
    *n = (int) SPI_processed;
    SPI_finish();
    return out;
}

char *placement_node(Oid relid, text *value)
{
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    static const Oid argtypes[2] = {OIDOID, TEXTOID};
    SPIPlanPtr plan = pg::spi::kept_plan(&placement_node_plan, PLACEMENT_NODE_SQL, 2, argtypes);
    Datum args[2] = {ObjectIdGetDatum(relid), PointerGetDatum(value)};
    if (pg::spi::execute_plan(plan, args, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_placement failed");
    const char *node = SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
    if (node == NULL)
        node = "another node";
    char *out = strcpy((char *) SPI_palloc(strlen(node) + 1), node);
    SPI_finish();
    return out;
}

int32 local_group()
{
    if (!installed())
        return 0;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plan = pg::spi::kept_plan(&local_group_plan, "SELECT g.groupid FROM pg_catalog.pg_dist_local_group g",
                                         0, NULL);
    if (pg::spi::execute_plan(plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading pg_dist_local_group failed");
    int32 group = 0;
    if (SPI_processed > 0)
    {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        group = isnull ? 0 : DatumGetInt32(d);
    }
    SPI_finish();
    return group;
}

} // namespace pg::citus
