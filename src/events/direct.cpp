/*
 * direct.cpp: what store.cpp and stream_row.cpp share: opening one of
 * chronicle's tables for a write through the table access method (the
 * executor state that ExecInsertIndexTuples and ExecConstraints need), and
 * the test that the table is still exactly what the extension made, so that
 * such a write skips nothing an SQL statement would have done.
 */
#include "events/events.h"
#include "pg/citus.h"

extern "C" {
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

static Oid relation_oid(const char *name, Oid nsp)
{
    Oid relid = get_relname_relid(name, nsp);
    if (!OidIsValid(relid))
        elog(ERROR, "chronicle: relation chronicle.%s is missing", name);
    return relid;
}

/* A function of schema chronicle without arguments (InvalidOid if none). */
static Oid function_oid(const char *name, Oid nsp)
{
    return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
                           PointerGetDatum(buildoidvector(NULL, 0)), ObjectIdGetDatum(nsp));
}

/* On a Citus cluster: the local shard of relid holding stream_id, or 0A000. */
static Oid local_shard(Oid relid, text *stream_id, bool *distributed)
{
    Oid shard = pg::citus::local_placement(relid, stream_id, distributed);
    if (!OidIsValid(shard))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("stream \"%s\" is stored on another node of the Citus cluster",
                        text_to_cstring(stream_id)),
                 errdetail("An append writes on the node that holds the stream's shard: the event's tx_id "
                           "and global_position belong to that node's log."),
                 errhint("Call the function as its own statement outside a transaction block, so that "
                         "Citus delegates it to that node, or connect to that node.")));
    return shard;
}

void events_catalog(EventsCatalog *out, text *stream_id)
{
    /* Looked up on every append: a cached OID would outlive DROP/CREATE EXTENSION. */
    Oid nsp = get_namespace_oid("chronicle", false);
    out->events = relation_oid("events", nsp);
    out->streams = relation_oid("streams", nsp);
    out->position_seq = relation_oid("global_position_seq", nsp);
    out->insert_check_fn = function_oid("_events_insert_check", nsp);
    out->version_grows_fn = function_oid("_streams_version_grows", nsp);
    out->distributed = false;
    if (pg::citus::installed())
    {
        bool streams_distributed;
        Oid shell = out->events;
        out->events = local_shard(out->events, stream_id, &out->distributed);
        /*
         * The direct paths write the shard; the lock an append takes on
         * chronicle.events itself on one server is taken on this node's
         * shell too, so that what waits for appends there (define and drop
         * of a projection: LOCK TABLE, which Citus takes on every node's
         * shell) waits for them on a cluster, and an append begun after
         * reads the invalidations they sent (docs/design/citus.md).
         */
        if (out->distributed)
            LockRelationOid(shell, RowExclusiveLock);
        out->streams = local_shard(out->streams, stream_id, &streams_distributed);
        if (out->distributed != streams_distributed)
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("chronicle.events and chronicle.streams must both be distributed, or neither"),
                            errhint("Run chronicle.distribute() on the coordinator.")));
    }
}

void events_direct_open(DirectTarget *target, Oid relid, AclMode perms)
{
    target->rel = table_open(relid, RowExclusiveLock);
    target->estate = CreateExecutorState();
    target->estate->es_output_cid = GetCurrentCommandId(true);
    /* A range table of one entry, for the error paths of ExecConstraints. */
    RangeTblEntry *rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_RELATION;
    rte->relid = relid;
    rte->relkind = RELKIND_RELATION;
    rte->rellockmode = RowExclusiveLock;
    rte->requiredPerms = perms;
    ExecInitRangeTable(target->estate, list_make1(rte));
    target->rri = makeNode(ResultRelInfo);
    InitResultRelInfo(target->rri, target->rel, 1, NULL, 0);
    ExecOpenIndices(target->rri, false);
}

void events_direct_close(DirectTarget *target)
{
    ExecCloseIndices(target->rri);
    FreeExecutorState(target->estate);
    table_close(target->rel, NoLock); /* the lock is kept until commit */
}

bool events_direct_plain(const DirectTarget *target, const Oid *column_types, int ncolumns)
{
    Relation rel = target->rel;
    if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhasrules ||
        rel->rd_rel->relrowsecurity)
        return false;
    /* Exactly the contract's columns: none added by the owner, none dropped. */
    TupleDesc desc = RelationGetDescr(rel);
    if (desc->natts != ncolumns)
        return false;
    for (int i = 0; i < ncolumns; i++)
    {
        Form_pg_attribute att = TupleDescAttr(desc, i);
        if (att->attisdropped || att->atttypid != column_types[i] || att->attgenerated)
            return false;
    }
    /* Checks that would have to be queued until the end of the statement or transaction. */
    const ResultRelInfo *rri = target->rri;
    for (int i = 0; i < rri->ri_NumIndices; i++)
    {
        Form_pg_index index = rri->ri_IndexRelationDescs[i]->rd_index;
        if (!index->indimmediate || rri->ri_IndexRelationInfo[i]->ii_ExclusionOps != NULL)
            return false;
    }
    return true;
}
