/*
 * query.cpp: tree_subtree, tree_ancestors, tree_children (rows of the user's
 * own type), and tree_validate.
 *
 * Reads take no tree lock, only ACCESS SHARE on the table (before they read
 * the attachment), and use the calling statement's snapshot, so they never
 * wait for writers and always see one committed numbering.
 */
#include "tree/tree.h"
#include "pg/citus.h"
#include "pg/spi.h"
#include "errors.h"
#include "pg/result_memory.h"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
#include "catalog/pg_type.h"
#include "executor/tstoreReceiver.h"
#include "nodes/params.h"
#include "tcop/dest.h"
}

namespace {

/* The tree table whose row type the first argument has. */
TreeInfo *tree_of_rowtype(FunctionCallInfo fcinfo)
{
    Oid type = get_fn_expr_argtype(fcinfo->flinfo, 0);
    Oid relid = OidIsValid(type) ? typeidTypeRelid(type) : InvalidOid;
    if (!OidIsValid(relid))
    {
        const char *type_name = OidIsValid(type) ? format_type_be(type) : "unknown";
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("%s is not the row type of a table", type_name),
                        "", "Pass NULL::your_table as the first argument.");
    }
    /* ACCESS SHARE, which its statements take anyway, before the attachment
     * is read (isolation spec tree_reader_reattach). */
    tree_lock_before_reading(relid, AccessShareLock);
    return tree_info(relid, false);
}

/* The in_scope argument: a value of the scope column's type, or not given. */
bool scope_given(FunctionCallInfo fcinfo, TreeInfo *ti, int arg, Datum *scope)
{
    if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
        return false;
    if (!ti->scope_att || ti->per_root)
    {
        const char *name = get_rel_name(ti->relid);
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("tree table %s has no scope column", name ? name : "?"), "",
                        "Leave in_scope NULL.");
    }
    *scope = tree_cast_scope(ti, PG_GETARG_DATUM(arg), get_fn_expr_argtype(fcinfo->flinfo, arg));
    return true;
}

/* scope_arg: where in_scope is (subtree: after max_depth). */
Datum rows_of(FunctionCallInfo fcinfo, TreePlan which, bool with_depth, int scope_arg)
{
    /* Warm result memory: a subtree of thousands of rows fills fresh pages otherwise. */
    pg::begin_warm_result(fcinfo);
    ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
    if (PG_ARGISNULL(1))
        return (Datum) 0;
    if (with_depth && !PG_ARGISNULL(2) && PG_GETARG_INT32(2) < 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "max_depth must not be negative");
    SPI_connect();
    TreeInfo *ti = tree_of_rowtype(fcinfo);
    Datum scope = (Datum) 0;
    bool given = scope_given(fcinfo, ti, scope_arg, &scope);
    /* A table distributed by Citus: its shard holding the scope, here. */
    if (tree_is_shell(ti))
        ti = tree_local_shard(ti, scope, !given);
    Datum id = tree_cast_id(ti, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1));
    /*
     * The node first where its scope decides (a scope given, or ids unique
     * only within their scope): found there or TR002, before any rows.
     */
    TreeNode located;
    bool have_node = false;
    if (given || ti->scoped_ids)
    {
        if (!tree_locate(ti, id, given, scope, false, &located))
            tree_node_not_found(ti, id, given, scope, "node");
        have_node = true;
    }
    /* Rows go straight from the executor into the result tuplestore, converted
     * to the table's row type (which may have dropped columns). */
    int nparams = 1;
    ParamListInfo params = makeParamList(4);
    auto set_param = [&](int i, Datum value, bool isnull, Oid type) {
        params->params[i].value = value;
        params->params[i].isnull = isnull;
        params->params[i].pflags = PARAM_FLAG_CONST;
        params->params[i].ptype = type;
    };
    set_param(0, id, false, ti->id_type);
    if (ti->scoped_ids)
    {
        /* P_ANCESTORS, P_CHILDREN: within the node's scope. */
        set_param(1, located.scope, located.scope_null, ti->scope_type);
        nparams = 2;
    }
    if (which == P_SUBTREE)
    {
        /* Subtree: the node's numbers first, then its range. */
        TreeNode node;
        if (have_node)
            node = located;
        else if (!tree_fetch_node_snapshot(ti, id, (Datum) 0, true, &node))
            tree_node_not_found(ti, id, false, (Datum) 0, "node");
        tree_require_numbers(ti, id, &node, "node");
        bool depth_given = with_depth && !PG_ARGISNULL(2);
        set_param(0, Int32GetDatum(node.lft), false, INT4OID);
        set_param(1, Int32GetDatum(node.rgt), false, INT4OID);
        set_param(2, depth_given ? Int32GetDatum(node.depth + PG_GETARG_INT32(2)) : (Datum) 0,
                  !depth_given, INT4OID);
        set_param(3, node.scope, node.scope_null, ti->scope_att ? ti->scope_type : INT4OID);
        nparams = ti->scope_att ? 4 : 3;
    }
    params->numParams = nparams;
    DestReceiver *dest = CreateDestReceiver(DestTuplestore);
    SetTuplestoreDestReceiverParams(dest, rsi->setResult, rsi->econtext->ecxt_per_query_memory,
                                    false, rsi->setDesc,
                                    "the tree table's row type changed during the query");
    SPIExecuteOptions opts;
    memset(&opts, 0, sizeof(opts));
    opts.params = params;
    opts.read_only = true;
    opts.dest = dest;
    /*
     * A subtree is one range of the lft index, wanted in lft order: an index
     * scan delivers it sorted, where the planner (which cannot know how small
     * the range is) would often pick a bitmap scan and sort.  Plans are made
     * at execution, so the preference is set around it.
     */
    int nest = NewGUCNestLevel();
    if (which == P_SUBTREE)
    {
        set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_SAVE, true, 0, false);
        set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                          true, 0, false);
    }
    int rc = pg::spi::execute_plan_extended(tree_plan(ti, which), &opts);
    AtEOXact_GUC(true, nest);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: tree query failed");
    uint64 n = SPI_processed;
    dest->rDestroy(dest);
    if (n == 0 && !have_node)
    {
        TreeNode node;
        if (!tree_fetch_node_snapshot(ti, id, (Datum) 0, true, &node))
            tree_node_not_found(ti, id, false, (Datum) 0, "node");
    }
    SPI_finish();
    return (Datum) 0;
}

struct VRow
{
    Datum id, parent;
    bool parent_null, lft_null;
    int32 lft, rgt, depth;
};

struct Problems
{
    Tuplestorestate *store; /* NULL: only count them, and keep the first */
    TupleDesc desc;
    const char *scope;
    int64 count;
    char *first;
    Datum key; /* per_root: the tree's root id */
};

void put_problem(Problems *p, TreeInfo *ti, Datum id, bool id_null, const char *text)
{
    p->count++;
    if (!p->store)
    {
        if (!p->first)
            p->first = id_null ? pstrdup(text) : psprintf("node %s: %s", tree_id_text(ti, id), text);
        return;
    }
    Datum values[3] = {CStringGetTextDatum(p->scope),
                       id_null ? (Datum) 0 : CStringGetTextDatum(tree_id_text(ti, id)),
                       CStringGetTextDatum(text)};
    bool nulls[3] = {!ti->scope_att, id_null, false};
    tuplestore_putvalues(p->store, p->desc, values, nulls);
}

void problem(Problems *p, TreeInfo *ti, Datum id, const char *fmt, ...) pg_attribute_printf(4, 5);
void problem(Problems *p, TreeInfo *ti, Datum id, const char *fmt, ...)
{
    char buf[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    put_problem(p, ti, id, false, buf);
}

int by_lft(const void *a, const void *b)
{
    const VRow *x = (const VRow *) a, *y = (const VRow *) b;
    if (x->lft_null != y->lft_null)
        return x->lft_null ? 1 : -1;
    return x->lft < y->lft ? -1 : x->lft > y->lft;
}

/* Check one tree: numbers 1..2n each used once, ranges nest, and parent and
 * depth agree with the nesting. */
void validate_scope(TreeInfo *ti, Problems *p, Datum scope, bool scope_null)
{
    Datum args[1] = {scope};
    char nulls[1] = {scope_null ? 'n' : ' '};
    if (pg::spi::execute_plan(tree_plan(ti, P_SCOPE_ROWS), args, nulls, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: tree query failed");
    int n = (int) SPI_processed;
    VRow *rows = (VRow *) palloc0(sizeof(VRow) * (n + 1));
    for (int i = 0; i < n; i++)
    {
        HeapTuple t = SPI_tuptable->vals[i];
        TupleDesc d = SPI_tuptable->tupdesc;
        bool isnull, rn, dn;
        rows[i].id = SPI_getbinval(t, d, 1, &isnull);
        rows[i].parent = SPI_getbinval(t, d, 2, &rows[i].parent_null);
        rows[i].lft = tree_get_int(t, d, 3, &rows[i].lft_null);
        rows[i].rgt = tree_get_int(t, d, 4, &rn);
        rows[i].depth = tree_get_int(t, d, 5, &dn);
        rows[i].lft_null = rows[i].lft_null || rn || dn;
    }
    qsort(rows, n, sizeof(VRow), by_lft);

    /* Every number 1..2n exactly once. */
    char *used = (char *) palloc0(2 * n + 2);
    for (int i = 0; i < n; i++)
    {
        VRow *r = &rows[i];
        if (r->lft_null)
        {
            problem(p, ti, r->id, "not numbered (lft, rgt or depth is NULL)");
            continue;
        }
        if (r->lft >= r->rgt)
            problem(p, ti, r->id, "lft %d >= rgt %d", r->lft, r->rgt);
        for (int32 v : {r->lft, r->rgt})
        {
            if (v < 1 || v > 2 * n)
                problem(p, ti, r->id, "number %d outside 1..%d (gap)", v, 2 * n);
            else if (used[v]++)
                problem(p, ti, r->id, "number %d used twice (overlap)", v);
        }
    }
    for (int v = 1; v <= 2 * n; v++)
        if (!used[v])
        {
            /* One gap report per tree is enough; it belongs to no node. */
            put_problem(p, ti, (Datum) 0, true, psprintf("number %d unused (gap)", v));
            break;
        }

    /* Nesting: walk in lft order with a stack of open ranges. */
    int *stack = (int *) palloc(sizeof(int) * (n + 1));
    int top = 0;
    for (int i = 0; i < n; i++)
    {
        VRow *r = &rows[i];
        if (r->lft_null)
            break;
        while (top > 0 && rows[stack[top - 1]].rgt < r->lft)
            top--;
        if (top > 0 && rows[stack[top - 1]].rgt < r->rgt)
            problem(p, ti, r->id, "range %d..%d overlaps the range of node %s", r->lft, r->rgt,
                    tree_id_text(ti, rows[stack[top - 1]].id));
        VRow *enclosing = top > 0 ? &rows[stack[top - 1]] : NULL;
        if (!enclosing && ti->per_root && tree_cmp_id(ti, r->id, p->key) != 0)
            problem(p, ti, r->id, "tree_root says %s, numbering says a root of its own",
                    tree_id_text(ti, p->key));
        if (!enclosing && !r->parent_null)
            problem(p, ti, r->id, "parent column says %s, numbering says root",
                    tree_id_text(ti, r->parent));
        else if (enclosing && (r->parent_null || tree_cmp_id(ti, r->parent, enclosing->id) != 0))
            problem(p, ti, r->id, "parent column says %s, numbering says %s",
                    r->parent_null ? "root" : tree_id_text(ti, r->parent),
                    tree_id_text(ti, enclosing->id));
        if (r->depth != top)
            problem(p, ti, r->id, "depth %d, numbering says %d", r->depth, top);
        stack[top++] = i;
        if ((i & 4095) == 0)
            CHECK_FOR_INTERRUPTS();
    }
}

} // namespace

/* The problems tree_validate would report for one tree, counted (and the
 * first one described) rather than returned; SPI must be connected, and the
 * rows are read with the active snapshot. */
int64 tree_scope_problems(TreeInfo *ti, Datum scope, bool scope_null, char **first)
{
    Problems p = {NULL, NULL, "", 0, NULL, scope};
    validate_scope(ti, &p, scope, scope_null);
    *first = p.first;
    return p.count;
}

SQL_FUNCTION(chronicle_tree_subtree)
{
    return rows_of(fcinfo, P_SUBTREE, true, 3);
}

SQL_FUNCTION(chronicle_tree_ancestors)
{
    return rows_of(fcinfo, P_ANCESTORS, false, 2);
}

SQL_FUNCTION(chronicle_tree_children)
{
    return rows_of(fcinfo, P_CHILDREN, false, 2);
}

/* Every tree of one table (or shard) of this node, or only the scope given. */
static void validate_table(TreeInfo *ti, Problems *p, bool given, Datum scope)
{
    if (given)
    {
        p->scope = tree_scope_text(ti, scope, false);
        p->key = scope;
        validate_scope(ti, p, scope, false);
        return;
    }
    if (pg::spi::execute_plan(tree_plan(ti, P_SCOPES), NULL, NULL, true, 0) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: tree query failed");
    uint64 ns = SPI_processed;
    SPITupleTable *scopes = SPI_tuptable;
    for (uint64 i = 0; i < ns; i++)
    {
        bool isnull;
        Datum s = SPI_getbinval(scopes->vals[i], scopes->tupdesc, 1, &isnull);
        p->scope = tree_scope_text(ti, s, isnull);
        p->key = s;
        if (ti->per_root && isnull)
        {
            /* per_root: a row without tree_root belongs to no tree. */
            SPITupleTable *keep = SPI_tuptable;
            if (pg::spi::execute_plan(tree_plan(ti, P_ALL_ROWS), NULL, NULL, true, 0) != SPI_OK_SELECT)
                elog(ERROR, "chronicle: tree query failed");
            for (uint64 j = 0; j < SPI_processed; j++)
            {
                bool rn;
                SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 7, &rn);
                if (rn)
                    problem(p, ti,
                            SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &rn),
                            "not numbered (tree_root is NULL)");
            }
            SPI_tuptable = keep;
            continue;
        }
        if (ti->scope_att && isnull)
            continue; /* rows without a scope belong to no tree */
        validate_scope(ti, p, s, isnull);
    }
}

SQL_FUNCTION(chronicle_tree_validate)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "argument tbl must not be NULL");
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
    SPI_connect();
    Oid relid = PG_GETARG_OID(0);
    /* As tree_of_rowtype: the table before its attachment. */
    tree_lock_before_reading(relid, AccessShareLock);
    TreeInfo *ti = tree_info(relid, false);
    Datum scope = (Datum) 0;
    bool given = scope_given(fcinfo, ti, 1, &scope);
    Problems p = {rsi->setResult, rsi->setDesc, "", 0, NULL, (Datum) 0};
    if (tree_is_shell(ti) && given)
        validate_table(tree_local_shard(ti, scope, false), &p, true, scope);
    else if (tree_is_shell(ti))
    {
        /* Every scope of the table's shards on this node. */
        int n;
        Oid *shards = pg::citus::local_shards(relid, &n);
        if (n == 0)
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            pg::format("no shard of tree table %s is on this node", name),
                            "A distributed tree is validated where its shards are: on this node with "
                            "in_scope, on each worker without.",
                            pg::format("From the coordinator: SELECT * FROM run_command_on_shards('%s', "
                                       "$$SELECT count(*) FROM chronicle.tree_validate('%%s')$$).",
                                       name));
        }
        for (int i = 0; i < n; i++)
            validate_table(tree_info(shards[i], false), &p, false, (Datum) 0);
    }
    else
        validate_table(ti, &p, given, scope);
    SPI_finish();
    return (Datum) 0;
}
