/*
 * guard.cpp: keeping Citus's function-call delegation away from NULL stream ids.
 *
 * chronicle.distribute() delegates the stream-addressed functions to the node
 * holding the stream (create_distributed_function on their stream_id
 * argument).  Citus 13.2 decides where a call goes in its planner hook: it
 * hashes the argument when it is a constant, without testing for NULL, and a
 * call such as chronicle.append(NULL, ...) or chronicle.verify() (stream_id
 * defaults to NULL: every stream) crashes the backend there
 * (function_call_delegation.c, FindShardInterval on a NULL datum; seen on
 * v13.2.2 and v14.0.1).
 *
 * This planner hook runs before Citus's (chronicle is listed after citus in
 * shared_preload_libraries, which distribute() requires): when the statement
 * is a call of one of chronicle's functions whose first argument is a NULL
 * constant (or a NULL bound parameter), it wraps that argument in a volatile
 * expression that still yields the NULL.  Citus then leaves the call where it
 * is, and the function itself handles NULL as it always does (22004, NULL,
 * or every stream for verify).  Any other statement passes untouched after
 * a few pointer tests.
 *
 * One hook in the planner chain, installed once, calling the previous one.
 */
#include "citus/guard.h"

extern "C" {
#include "postgres.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/params.h"
#include "access/htup_details.h"
#include "optimizer/planner.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/syscache.h"
#include "utils/lsyscache.h"
}


namespace {

planner_hook_type prev_planner_hook = nullptr;

bool null_argument(Node *arg, ParamListInfo params)
{
    arg = strip_implicit_coercions(arg);
    if (IsA(arg, Const))
        return ((Const *)arg)->constisnull;
    if (IsA(arg, Param) && ((Param *)arg)->paramkind == PARAM_EXTERN && params != NULL)
    {
        int id = ((Param *)arg)->paramid;
        if (id < 1 || id > params->numParams)
            return false;
        ParamExternData scratch;
        ParamExternData *p = params->paramFetch ? params->paramFetch(params, id, false, &scratch)
                                                : &params->params[id - 1];
        return p != NULL && p->isnull;
    }
    return false;
}

/*
 * A chronicle function of one parameter whose default is NULL, called
 * without it (chronicle.verify()): the NULL constant the planner will insert,
 * or NULL when that is not the case.
 */
Node *null_default(FuncExpr *call)
{
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(call->funcid));
    if (!HeapTupleIsValid(tuple))
        return NULL;
    Form_pg_proc proc = (Form_pg_proc)GETSTRUCT(tuple);
    Node *result = NULL;
    if (proc->pronargs == 1 && proc->pronargdefaults == 1)
    {
        bool isnull;
        Datum defaults = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_proargdefaults, &isnull);
        if (!isnull)
        {
            List *exprs = castNode(List, stringToNode(TextDatumGetCString(defaults)));
            Node *d = strip_implicit_coercions((Node *)linitial(exprs));
            if (IsA(d, Const) && ((Const *)d)->constisnull)
                result = (Node *)linitial(exprs);
        }
    }
    ReleaseSysCache(tuple);
    return result;
}

/* One call expression: wrap a NULL first argument of a chronicle function. */
void guard_call(Node *node, ParamListInfo params)
{
    if (node == NULL || !IsA(node, FuncExpr))
        return;
    FuncExpr *call = (FuncExpr *)node;
    if (call->args != NIL && !null_argument((Node *)linitial(call->args), params))
        return;
    Oid nsp = get_namespace_oid("chronicle", true);
    if (!OidIsValid(nsp) || get_func_namespace(call->funcid) != nsp)
        return;
    /* Only where Citus could delegate: installs without it plan exactly as before. */
    if (!OidIsValid(get_extension_oid("citus", true)))
        return;
    if (call->args == NIL)
    {
        Node *d = null_default(call);
        if (d == NULL)
            return;
        call->args = list_make1(d);
    }
    /*
     * CASE WHEN random() IS NULL THEN arg ELSE arg END: still the NULL, but
     * volatile, so that neither the planner's constant folding (which Citus
     * runs before deciding) makes it a constant again nor Citus delegates
     * the call (it never delegates volatile arguments).
     */
    Node *arg = (Node *)linitial(call->args);
    FuncExpr *random = makeFuncExpr(F_RANDOM, FLOAT8OID, NIL, InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
    NullTest *test = makeNode(NullTest);
    test->arg = (Expr *)random;
    test->nulltesttype = IS_NULL;
    test->argisrow = false;
    test->location = -1;
    CaseWhen *when = makeNode(CaseWhen);
    when->expr = (Expr *)test;
    when->result = (Expr *)arg;
    when->location = -1;
    CaseExpr *expr = makeNode(CaseExpr);
    expr->casetype = exprType(arg);
    expr->casecollid = exprCollation(arg);
    expr->arg = NULL;
    expr->args = list_make1(when);
    expr->defresult = (Expr *)copyObjectImpl(arg);
    expr->location = -1;
    linitial(call->args) = expr;
}

/* The two shapes Citus delegates: SELECT f(...) and SELECT ... FROM f(...). */
PlannedStmt *guard_planner(Query *parse, const char *query_string, int cursor_options, ParamListInfo params)
{
    if (parse->commandType == CMD_SELECT)
    {
        if (list_length(parse->targetList) == 1)
            guard_call((Node *)((TargetEntry *)linitial(parse->targetList))->expr, params);
        if (list_length(parse->rtable) == 1)
        {
            RangeTblEntry *rte = (RangeTblEntry *)linitial(parse->rtable);
            if (rte->rtekind == RTE_FUNCTION && list_length(rte->functions) == 1)
                guard_call(((RangeTblFunction *)linitial(rte->functions))->funcexpr, params);
        }
    }
    return prev_planner_hook ? prev_planner_hook(parse, query_string, cursor_options, params)
                             : standard_planner(parse, query_string, cursor_options, params);
}

} // namespace

void citus_guard_init(void)
{
    prev_planner_hook = planner_hook;
    planner_hook = guard_planner;
}
