/*
 * prenumber.cpp: an INSERT that loads whole new trees stores their rows with
 * their numbers, instead of storing them without and writing each again.
 *
 * A nested set's numbers depend on rows a statement has not produced yet (a
 * row's rgt on all its descendants), so the AFTER INSERT statement trigger
 * numbers the rows once they are all stored, and every new row used to be
 * written twice: stored without numbers, then updated (a non-HOT update: a
 * new heap version and a new entry in every index).  For the bulk-load shape
 * the numbers are known before any row is stored, if the statement's rows are
 * seen first: a planner hook puts a node ("Custom Scan (chronicle tree
 * numbers)") between an INSERT into a tree table and the rows it inserts.
 * The node reads all the rows first, and when they form whole new trees
 * (every parent NULL or a row of the same statement, in the same scope) it
 * predicts their numbers as the trigger will compute them: new roots after
 * the tree's current end (read with the latest snapshot, without a lock; with
 * per_root numbering each new root tree from 1, its rows' tree_root its id),
 * children in statement order or by (order column, id), depth-first.  It then
 * hands the rows on with those numbers.
 *
 * The prediction is only a prediction.  The AFTER INSERT statement trigger
 * still takes its locks, reads the tree and numbers it exactly as before
 * (renumber.cpp), treating the predicted rows as rows without numbers placed
 * in statement order; it writes only the rows whose numbers differ, so a
 * prediction that holds costs no second write and one that a concurrent
 * writer made wrong is corrected as any numbering is.  The trigger recognises
 * the predicted rows by comparing its transition table, row by row, with what
 * the node registered (tree_prediction_match): rows it did not predict (a
 * restore that brings its own numbers) are treated as before.
 *
 * The node passes rows through unchanged (and predicts nothing) for one row,
 * for rows that join existing nodes, that give lft/rgt/depth themselves, that
 * repeat an id or contain a cycle, with an order column when the tree
 * already has rows (per_scope numbering), while chronicle itself maintains
 * the tree, when the insert trigger would not fire (session_replication_role,
 * a disabled trigger; asked again once the rows are read), when lft, rgt or
 * depth is not an int4 column (an owner may retype them once the guard
 * trigger is dropped), and, with per_scope numbering, when the role running
 * the INSERT may not SELECT lft and rgt: numbers after the tree's end tell
 * how many rows it holds, and an error's "Failing row contains" shows the
 * values of every column the INSERT named.  It is not added to an INSERT
 * with RETURNING (which would show the numbers where it shows NULL today),
 * ON CONFLICT, a BEFORE ROW INSERT trigger (which could change a key after
 * the prediction) or a stored generated column, nor to a single-row VALUES,
 * nor to a table whose trigger of that name is not chronicle's, nor when a
 * check the INSERT makes per row reads the numbers: a WITH CHECK OPTION or a
 * policy's WITH CHECK reading lft, rgt, depth or tree_root, a unique or
 * exclusion constraint over lft or rgt (checks_read_numbers).  COPY does
 * not plan its rows and keeps the two writes.  AFTER ROW triggers and
 * transition tables read before chronicle's trigger see the predicted
 * numbers (NULL without the node), which that trigger may still correct.
 *
 * C-style (tree.h): the executor calls the node's methods directly, so their
 * chronicle calls run under pg::c_entry().
 */
#include "pg/callbacks.h"
#include "tree/tree.h"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/sysattr.h"
#include "catalog/pg_index.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
}

namespace {

const char *const INSERT_TRIGGER = "chronicle_tree_3_insert";

/* ---- what the node predicted, until the statement's trigger takes it ---- */

struct Prediction
{
    MemoryContext cxt; /* holds this struct and its arrays, under TopTransactionContext */
    Oid relid;
    SubTransactionId subxact;
    int n;
    Datum *ids, *root;        /* root: per_root's tree_root, else NULL */
    int32 *lft, *rgt, *depth; /* in the order the rows were handed on */
    Prediction *next;
};
Prediction *predictions = NULL;

/*
 * Each registration has a memory context of its own, deleted as soon as the
 * trigger takes it or its subtransaction aborts: a transaction of many bulk
 * INSERTs must not keep every statement's ids and numbers until it ends.
 */
void drop_prediction(Prediction **at)
{
    Prediction *p = *at;
    *at = p->next;
    MemoryContextDelete(p->cxt);
}

void forget_predictions(XactEvent event, void *arg)
{
    predictions = NULL; /* their contexts go with TopTransactionContext */
}

/* A subtransaction that aborts takes what it, or any subtransaction begun
 * inside it (a later id), registered. */
void forget_aborted(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
                    void *arg)
{
    if (event != SUBXACT_EVENT_ABORT_SUB)
        return;
    for (Prediction **p = &predictions; *p;)
        if ((*p)->subxact >= mySubid)
            drop_prediction(p);
        else
            p = &(*p)->next;
}

/* ---- the plan node ---- */

struct NumberState
{
    CustomScanState css; /* first: the executor sees a CustomScanState */
    Oid relid;
    bool loaded, predicted;
    Tuplestorestate *store;
    TupleTableSlot *row; /* reads the store */
    int n, next;
    int32 *lft, *rgt, *depth;
    Datum *root; /* per_root: the id of each row's root (tree_root) */
    AttrNumber lft_att, rgt_att, depth_att, root_att;
};

Node *create_state(CustomScan *cscan);
void begin_node(CustomScanState *node, EState *estate, int eflags);
TupleTableSlot *exec_node(CustomScanState *node);
void end_node(CustomScanState *node);
void rescan_node(CustomScanState *node);

const CustomScanMethods scan_methods = {"chronicle tree numbers", create_state};
const CustomExecMethods exec_methods = {
    "chronicle tree numbers", begin_node, exec_node, end_node, rescan_node,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

Node *create_state(CustomScan *cscan)
{
    NumberState *st = (NumberState *) newNode(sizeof(NumberState), T_CustomScanState);
    st->css.methods = &exec_methods;
    st->relid = linitial_oid(cscan->custom_private);
    return (Node *) st;
}

void begin_node(CustomScanState *node, EState *estate, int eflags)
{
    CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
    outerPlanState(node) = ExecInitNode(outerPlan(cscan), estate, eflags);
}

void end_node(CustomScanState *node)
{
    NumberState *st = (NumberState *) node;
    if (st->store)
        tuplestore_end(st->store);
    st->store = NULL;
    if (st->row)
        ExecDropSingleTupleTableSlot(st->row);
    st->row = NULL;
    ExecEndNode(outerPlanState(node));
}

void rescan_node(CustomScanState *node)
{
    NumberState *st = (NumberState *) node;
    if (st->row)
        ExecClearTuple(st->row);
    if (st->store)
        tuplestore_end(st->store);
    st->store = NULL;
    st->loaded = st->predicted = false;
    if (outerPlanState(node)->chgParam == NULL)
        ExecReScan(outerPlanState(node));
}

/* Would the table's insert trigger fire now (tgenabled, session_replication_role)? */
bool insert_trigger_fires(Relation rel)
{
    TriggerDesc *td = rel->trigdesc;
    for (int i = 0; td && i < td->numtriggers; i++)
    {
        Trigger *t = &td->triggers[i];
        if (strcmp(t->tgname, INSERT_TRIGGER) != 0)
            continue;
        if (t->tgenabled == TRIGGER_DISABLED)
            return false;
        if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
            return t->tgenabled == TRIGGER_FIRES_ON_REPLICA || t->tgenabled == TRIGGER_FIRES_ALWAYS;
        return t->tgenabled != TRIGGER_FIRES_ON_REPLICA;
    }
    return false;
}

/* One row handed to the node, as far as the numbering needs it. */
struct NewRow
{
    Datum id, parent, ord;
    bool parent_null, ord_null;
    char *scope_text; /* "" without a scope column */
    Datum scope;
    int seq;
    int parent_ix; /* -1: a root */
    int first_child, next_sibling, last_child;
};

/*
 * The numbers of rows that form whole new trees, as the insert trigger will
 * give them when nothing changes the tree in between; false (nothing
 * predicted) for any other statement.  Runs with SPI connected, as the owner.
 */
bool predict(TreeInfo *ti, NewRow *rows, int n, int32 *lft, int32 *rgt, int32 *depth, Datum *root)
{
    TreeRows<NewRow> ctx = {ti, rows};
    int *idx = (int *) palloc(sizeof(int) * n);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    qsort_arg(idx, n, sizeof(int), tree_rows_by_id<NewRow>, &ctx);
    for (int i = 1; i < n; i++)
        if (tree_cmp_id(ti, rows[idx[i - 1]].id, rows[idx[i]].id) == 0)
            return false; /* the primary key will say so */
    /* Children lists in statement order; each parent a row of the statement. */
    int nroots = 0;
    for (int i = 0; i < n; i++)
    {
        NewRow *r = &rows[i];
        r->first_child = r->next_sibling = r->last_child = -1;
    }
    int *roots = (int *) palloc(sizeof(int) * n);
    for (int i = 0; i < n; i++)
    {
        NewRow *r = &rows[i];
        if (r->parent_null)
        {
            r->parent_ix = -1;
            roots[nroots++] = i;
            continue;
        }
        int p = tree_rows_find(ti, rows, idx, n, r->parent);
        if (p < 0 || strcmp(rows[p].scope_text, r->scope_text) != 0)
            return false; /* joins an existing node, or an error to come */
        r->parent_ix = p;
        if (rows[p].last_child < 0)
            rows[p].first_child = i;
        else
            rows[rows[p].last_child].next_sibling = i;
        rows[p].last_child = i;
    }
    if (nroots == 0)
        return false;
    int *kids = (int *) palloc(sizeof(int) * n);
    if (ti->order_att)
    {
        /* Each row's children by (order, id), as the trigger places new siblings. */
        for (int i = 0; i < n; i++)
        {
            if (rows[i].first_child < 0 || rows[rows[i].first_child].next_sibling < 0)
                continue;
            int m = 0;
            for (int x = rows[i].first_child; x >= 0; x = rows[x].next_sibling)
                kids[m++] = x;
            qsort_arg(kids, m, sizeof(int), tree_rows_by_order_id<NewRow>, &ctx);
            rows[i].first_child = kids[0];
            for (int x = 0; x < m; x++)
                rows[kids[x]].next_sibling = x + 1 < m ? kids[x + 1] : -1;
        }
    }
    /*
     * Per scope: its new roots after the tree's current end (the last of its
     * existing roots), in statement order; with an order column they would go
     * among the existing roots by order, so only a scope without rows is
     * predicted then.  Depth-first over each root, iteratively (the stack
     * holds the rows entered and not yet closed; first_child is consumed as
     * the walk goes).
     */
    int *stack = (int *) palloc(sizeof(int) * (n + 1));
    int visited = 0;
    bool *done = (bool *) palloc0(sizeof(bool) * nroots);
    for (int s = 0; s < nroots; s++)
    {
        if (done[s])
            continue;
        NewRow *first = &rows[roots[s]];
        int k = 0;
        for (int t = s; t < nroots; t++)
            if (!done[t] && strcmp(rows[roots[t]].scope_text, first->scope_text) == 0)
            {
                done[t] = true;
                kids[k++] = roots[t];
            }
        /* per_root: every root tree from 1, wherever it goes among the others. */
        int32 counter = ti->per_root ? 1 : tree_end_position(ti, first->scope, !ti->scope_att);
        if (ti->order_att && !ti->per_root)
        {
            if (counter != 1)
                return false;
            qsort_arg(kids, k, sizeof(int), tree_rows_by_order_id<NewRow>, &ctx);
        }
        for (int r = 0; r < k; r++)
        {
            if (ti->per_root)
                counter = 1;
            int top = 0;
            stack[0] = kids[r];
            if (root)
                root[kids[r]] = rows[kids[r]].id;
            lft[kids[r]] = counter++;
            depth[kids[r]] = 0;
            visited++;
            while (top >= 0)
            {
                int at = stack[top];
                int c = rows[at].first_child;
                if (c >= 0)
                {
                    if (root)
                        root[c] = rows[kids[r]].id;
                    rows[at].first_child = rows[c].next_sibling;
                    lft[c] = counter++;
                    depth[c] = depth[at] + 1;
                    visited++;
                    stack[++top] = c;
                }
                else
                {
                    rgt[at] = counter++;
                    top--;
                }
                if ((counter & 8191) == 0)
                    CHECK_FOR_INTERRUPTS();
            }
        }
    }
    /* Rows no root reaches are on a cycle: the trigger reports it. */
    return visited == n;
}

/*
 * May the node give this statement's rows numbers before its trigger does?
 * Read where the table is open (the executor holds its lock).
 */
bool may_predict(TreeInfo *ti)
{
    Relation rel = table_open(ti->relid, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    /*
     * The numbers go into the slot as int4 Datums: a managed column of any
     * other type (its owner may drop the guard trigger, then change the
     * type) would take them for a pointer, or a domain check be skipped.
     */
    bool ok = insert_trigger_fires(rel) &&
              TupleDescAttr(desc, ti->lft_att - 1)->atttypid == INT4OID &&
              TupleDescAttr(desc, ti->rgt_att - 1)->atttypid == INT4OID &&
              TupleDescAttr(desc, ti->depth_att - 1)->atttypid == INT4OID;
    table_close(rel, NoLock);
    if (!ok || ti->per_root)
        return ok;
    /*
     * Numbers after the tree's end tell how many rows the tree (the scope)
     * holds, and an error's "Failing row contains" shows the values of the
     * columns an INSERT named, whether its role may read them or not.  The
     * trigger numbers the rows as the owner and shows nothing; so a role
     * that may not read lft and rgt, and the scope they belong to, gets no
     * predicted numbers.  (per_root numbers start at 1 in a new tree: they
     * tell nothing.)
     */
    Oid user = GetUserId();
    if (pg_class_aclcheck(ti->relid, user, ACL_SELECT) == ACLCHECK_OK)
        return true;
    return pg_attribute_aclcheck(ti->relid, ti->lft_att, user, ACL_SELECT) == ACLCHECK_OK &&
           pg_attribute_aclcheck(ti->relid, ti->rgt_att, user, ACL_SELECT) == ACLCHECK_OK &&
           (!ti->scope_att ||
            pg_attribute_aclcheck(ti->relid, ti->scope_att, user, ACL_SELECT) == ACLCHECK_OK);
}

/* Read every row the INSERT will store; predict their numbers if it can. */
void load(NumberState *st)
{
    PlanState *child = outerPlanState(&st->css);
    EState *estate = st->css.ss.ps.state;
    MemoryContext cxt = estate->es_query_cxt;
    MemoryContext old = MemoryContextSwitchTo(cxt);
    st->store = tuplestore_begin_heap(false, false, work_mem);
    TreeInfo *ti = tree_busy(tree_trigger_depth()) ? NULL : tree_info(st->relid, true);
    bool usable = ti != NULL && may_predict(ti);
    /*
     * What the prediction reads of each row lives in a context of its own,
     * deleted once the numbers are known: a bulk load's rows are held by the
     * tuplestore (which spills past work_mem), and only their numbers stay
     * in memory while the trigger renumbers.
     */
    MemoryContext scratch =
        usable ? AllocSetContextCreate(cxt, "chronicle tree prediction", ALLOCSET_DEFAULT_SIZES) : NULL;
    int cap = 1024, n = 0;
    NewRow *rows = usable ? (NewRow *) MemoryContextAllocHuge(scratch, sizeof(NewRow) * cap) : NULL;
    int16 idlen = 0, sclen = 0, ordlen = 0;
    bool idbyval = true, scbyval = true, ordbyval = true;
    if (usable)
    {
        get_typlenbyval(ti->id_type, &idlen, &idbyval);
        if (ti->scope_att && !ti->per_root)
            get_typlenbyval(ti->scope_type, &sclen, &scbyval);
        if (ti->order_att)
            get_typlenbyval(ti->order_type, &ordlen, &ordbyval);
    }
    MemoryContextSwitchTo(old);
    for (;;)
    {
        TupleTableSlot *slot = ExecProcNode(child);
        if (TupIsNull(slot))
            break;
        old = MemoryContextSwitchTo(cxt);
        tuplestore_puttupleslot(st->store, slot);
        MemoryContextSwitchTo(usable ? scratch : cxt);
        if (usable)
        {
            bool isnull;
            bool given = false;
            (void) slot_getattr(slot, ti->lft_att, &isnull);
            given |= !isnull;
            (void) slot_getattr(slot, ti->rgt_att, &isnull);
            given |= !isnull;
            (void) slot_getattr(slot, ti->depth_att, &isnull);
            given |= !isnull;
            if (ti->per_root)
            {
                (void) slot_getattr(slot, ti->scope_att, &isnull); /* tree_root */
                given |= !isnull;
            }
            Datum id = slot_getattr(slot, ti->id_att, &isnull);
            if (given || isnull)
                usable = false; /* a restore's numbers, or an error to come */
            else
            {
                if (n == cap)
                {
                    cap *= 2;
                    rows = (NewRow *) repalloc_huge(rows, sizeof(NewRow) * cap);
                }
                NewRow *r = &rows[n];
                r->seq = n;
                r->id = datumCopy(id, idbyval, idlen);
                r->parent = slot_getattr(slot, ti->parent_att, &r->parent_null);
                if (!r->parent_null)
                    r->parent = datumCopy(r->parent, idbyval, idlen);
                r->ord_null = true;
                r->ord = (Datum) 0;
                if (ti->order_att)
                {
                    r->ord = slot_getattr(slot, ti->order_att, &r->ord_null);
                    if (!r->ord_null)
                        r->ord = datumCopy(r->ord, ordbyval, ordlen);
                }
                r->scope = (Datum) 0;
                r->scope_text = (char *) "";
                if (ti->scope_att && !ti->per_root)
                {
                    r->scope = slot_getattr(slot, ti->scope_att, &isnull);
                    if (isnull)
                        usable = false; /* the trigger's error */
                    else
                    {
                        r->scope = datumCopy(r->scope, scbyval, sclen);
                        r->scope_text = tree_scope_text(ti, r->scope, false);
                    }
                }
            }
        }
        n++;
        MemoryContextSwitchTo(old);
        if ((n & 4095) == 0)
            CHECK_FOR_INTERRUPTS();
    }
    st->n = n;
    st->next = 0;
    st->loaded = true;
    st->predicted = false;
    /*
     * Asked again now that the rows are read: a volatile function among them
     * may have switched the trigger off (session_replication_role), and rows
     * it will not number must not be numbered here either.
     */
    if (usable && n >= 2)
    {
        ti = tree_busy(tree_trigger_depth()) ? NULL : tree_info(st->relid, true);
        usable = ti != NULL && may_predict(ti);
    }
    if (!usable || n < 2)
    {
        if (scratch)
            MemoryContextDelete(scratch);
        return;
    }
    old = MemoryContextSwitchTo(cxt);
    int32 *lft = (int32 *) palloc0(sizeof(int32) * n);
    int32 *rgt = (int32 *) palloc0(sizeof(int32) * n);
    int32 *depth = (int32 *) palloc0(sizeof(int32) * n);
    Datum *root = ti->per_root ? (Datum *) palloc0(sizeof(Datum) * n) : NULL;
    MemoryContextSwitchTo(old);
    /* The tree's end is read as the triggers read the tree: as the owner,
     * with the latest snapshot (tree_run), here without the tree lock. */
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    int save_sec;
    Oid save_user = tree_switch_to_owner(ti, &save_sec);
    bool ok = predict(ti, rows, n, lft, rgt, depth, root);
    tree_switch_back(save_user, save_sec);
    SPI_finish();
    if (!ok)
    {
        MemoryContextDelete(scratch);
        return;
    }
    /* Registered for the statement's insert trigger, in the order handed on. */
    MemoryContext pcxt =
        AllocSetContextCreate(TopTransactionContext, "chronicle tree prediction", ALLOCSET_SMALL_SIZES);
    old = MemoryContextSwitchTo(pcxt);
    Prediction *p = (Prediction *) palloc(sizeof(Prediction));
    p->cxt = pcxt;
    p->relid = st->relid;
    p->subxact = GetCurrentSubTransactionId();
    p->n = n;
    p->ids = (Datum *) MemoryContextAllocHuge(pcxt, sizeof(Datum) * n);
    p->lft = (int32 *) MemoryContextAllocHuge(pcxt, sizeof(int32) * n);
    p->rgt = (int32 *) MemoryContextAllocHuge(pcxt, sizeof(int32) * n);
    p->depth = (int32 *) MemoryContextAllocHuge(pcxt, sizeof(int32) * n);
    p->root = root ? (Datum *) MemoryContextAllocHuge(pcxt, sizeof(Datum) * n) : NULL;
    for (int i = 0; i < n; i++)
    {
        p->ids[i] = datumCopy(rows[i].id, idbyval, idlen);
        if (root)
            p->root[i] = datumCopy(root[i], idbyval, idlen);
    }
    memcpy(p->lft, lft, sizeof(int32) * n);
    memcpy(p->rgt, rgt, sizeof(int32) * n);
    memcpy(p->depth, depth, sizeof(int32) * n);
    p->next = predictions;
    predictions = p;
    /* The node's tree_root values outlive the scratch rows they point into. */
    MemoryContextSwitchTo(cxt);
    if (root && !idbyval)
        for (int i = 0; i < n; i++)
            root[i] = datumCopy(root[i], idbyval, idlen);
    MemoryContextSwitchTo(old);
    MemoryContextDelete(scratch);
    st->lft = lft;
    st->rgt = rgt;
    st->depth = depth;
    st->lft_att = ti->lft_att;
    st->rgt_att = ti->rgt_att;
    st->depth_att = ti->depth_att;
    st->root = root;
    st->root_att = ti->per_root ? ti->scope_att : 0;
    st->predicted = true;
}

TupleTableSlot *exec_node(CustomScanState *node)
{
    NumberState *st = (NumberState *) node;
    if (!st->loaded)
    {
        if (!st->row)
            st->row = MakeSingleTupleTableSlot(ExecGetResultType(outerPlanState(node)),
                                               &TTSOpsMinimalTuple);
        pg::c_entry([&]() -> int {
            load(st);
            return 0;
        });
    }
    if (st->store == NULL)
        return ExecClearTuple(node->ss.ps.ps_ResultTupleSlot);
    if (!tuplestore_gettupleslot(st->store, true, false, st->row))
    {
        /* Every row handed on: its memory and temporary files can go before
         * the statement's triggers run. */
        ExecClearTuple(st->row);
        tuplestore_end(st->store);
        st->store = NULL;
        return ExecClearTuple(node->ss.ps.ps_ResultTupleSlot);
    }
    int i = st->next++;
    if (!st->predicted)
        return st->row;
    TupleTableSlot *out = node->ss.ps.ps_ResultTupleSlot;
    ExecClearTuple(out);
    slot_getallattrs(st->row);
    int natts = out->tts_tupleDescriptor->natts;
    memcpy(out->tts_values, st->row->tts_values, sizeof(Datum) * natts);
    memcpy(out->tts_isnull, st->row->tts_isnull, sizeof(bool) * natts);
    out->tts_values[st->lft_att - 1] = Int32GetDatum(st->lft[i]);
    out->tts_isnull[st->lft_att - 1] = false;
    out->tts_values[st->rgt_att - 1] = Int32GetDatum(st->rgt[i]);
    out->tts_isnull[st->rgt_att - 1] = false;
    out->tts_values[st->depth_att - 1] = Int32GetDatum(st->depth[i]);
    out->tts_isnull[st->depth_att - 1] = false;
    if (st->root_att)
    {
        out->tts_values[st->root_att - 1] = st->root[i];
        out->tts_isnull[st->root_att - 1] = false;
    }
    return ExecStoreVirtualTuple(out);
}

/* ---- the planner hook ---- */

planner_hook_type prev_planner_hook = nullptr;

/*
 * Is t chronicle's insert trigger, not merely a trigger of that name (which
 * anyone may create on a table of theirs, also in a database without
 * chronicle, where the node would fail looking for chronicle's catalog)?
 * Its function is chronicle's C function; only a superuser creates those.
 */
bool chronicle_insert_trigger(const Trigger *t)
{
    if (strcmp(t->tgname, INSERT_TRIGGER) != 0 || !TRIGGER_FOR_AFTER(t->tgtype) ||
        TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_INSERT(t->tgtype) || t->tgnewtable == NULL)
        return false;
    HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(t->tgfoid));
    if (!HeapTupleIsValid(tup))
        return false;
    bool ours = false;
    if (((Form_pg_proc) GETSTRUCT(tup))->prolang == ClanguageId)
    {
        bool isnull;
        Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
        if (!isnull)
        {
            char *symbol = TextDatumGetCString(src);
            ours = strcmp(symbol, "chronicle_tree_insert_trigger") == 0;
            pfree(symbol);
        }
    }
    ReleaseSysCache(tup);
    return ours;
}

/* Is rel a table whose INSERT the node may serve (chronicle's insert
 * trigger, no BEFORE ROW INSERT trigger, no stored generated column)? */
bool numbered_insert_target(Relation rel, int ncols)
{
    bool ok = rel->rd_rel->relkind == RELKIND_RELATION && rel->trigdesc != NULL &&
              !rel->trigdesc->trig_insert_before_row &&
              RelationGetNumberOfAttributes(rel) == ncols &&
              !(rel->rd_att->constr && rel->rd_att->constr->has_generated_stored);
    bool ours = false;
    for (int i = 0; ok && !ours && i < rel->trigdesc->numtriggers; i++)
        ours = chronicle_insert_trigger(&rel->trigdesc->triggers[i]);
    return ok && ours;
}

/* The attribute number of rel's column name (not dropped), or 0. */
AttrNumber column_number(Relation rel, const char *name)
{
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++)
    {
        Form_pg_attribute a = TupleDescAttr(desc, i);
        if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
            return a->attnum;
    }
    return 0;
}

/* Does cols (pull_varattnos' offsets) name any of atts[], or the whole row? */
bool names_any(Bitmapset *cols, const AttrNumber *atts, int n)
{
    if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, cols))
        return true;
    for (int i = 0; i < n; i++)
        if (atts[i] != 0 && bms_is_member(atts[i] - FirstLowInvalidHeapAttributeNumber, cols))
            return true;
    return false;
}

/*
 * Does the INSERT check its new rows, before chronicle's trigger has
 * numbered them, with something that reads their numbers?  Without the node
 * those checks saw NULL; with it they would see predictions, and pass or
 * refuse rows differently:
 *   - a view's WITH CHECK OPTION or a row-level security policy's WITH CHECK
 *     (the trigger's renumbering runs as the owner, through neither) that
 *     reads lft, rgt, depth or tree_root;
 *   - a unique or exclusion constraint over lft or rgt (DEFERRABLE, the only
 *     kind renumbering lives with, is still checked before chronicle's
 *     statement trigger runs): a prediction that a concurrent writer of the
 *     tree made wrong would collide with that writer's rows (isolation spec
 *     tree_bulk_unique).  depth and tree_root of a whole new tree are never
 *     mispredicted.
 * Read from the catalog as stored: no user expression is evaluated here.
 */
bool checks_read_numbers(ModifyTable *mt, Index rti, Relation rel)
{
    AttrNumber managed[4] = {column_number(rel, "lft"), column_number(rel, "rgt"),
                             column_number(rel, "depth"), column_number(rel, "tree_root")};
    Bitmapset *read = NULL;
    ListCell *l1, *l2;
    foreach (l1, mt->withCheckOptionLists)
        foreach (l2, (List *) lfirst(l1))
            pull_varattnos(((WithCheckOption *) lfirst(l2))->qual, rti, &read);
    if (names_any(read, managed, 4))
        return true;
    List *indexes = RelationGetIndexList(rel);
    bool found = false;
    foreach (l1, indexes)
    {
        HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(l1)));
        if (!HeapTupleIsValid(tup))
            continue;
        Form_pg_index ix = (Form_pg_index) GETSTRUCT(tup);
        if (ix->indisunique || ix->indisexclusion)
        {
            Bitmapset *cols = NULL;
            for (int k = 0; k < ix->indnkeyatts; k++)
                if (ix->indkey.values[k] != 0)
                    cols = bms_add_member(cols, ix->indkey.values[k] - FirstLowInvalidHeapAttributeNumber);
            const AttrNumber attnums[2] = {Anum_pg_index_indexprs, Anum_pg_index_indpred};
            for (AttrNumber a : attnums)
            {
                bool isnull;
                Datum stored = SysCacheGetAttr(INDEXRELID, tup, a, &isnull);
                if (!isnull)
                    pull_varattnos((Node *) stringToNode(TextDatumGetCString(stored)), 1, &cols);
            }
            found = names_any(cols, managed, 2);
        }
        ReleaseSysCache(tup);
        if (found)
            break;
    }
    list_free(indexes);
    return found;
}

void add_node(PlannedStmt *stmt)
{
    ModifyTable *mt = (ModifyTable *) stmt->planTree;
    Plan *child = outerPlan(mt);
    if (mt->operation != CMD_INSERT || list_length(mt->resultRelations) != 1 ||
        mt->onConflictAction != ONCONFLICT_NONE || mt->returningLists != NIL || child == NULL ||
        mt->rootRelation != 0)
        return;
    /* A single VALUES row is a Result without input: nothing to predict. */
    if (IsA(child, Result) && outerPlan(child) == NULL)
        return;
    RangeTblEntry *rte = rt_fetch(linitial_int(mt->resultRelations), stmt->rtable);
    if (rte->rtekind != RTE_RELATION)
        return;
    ListCell *lc;
    int i = 0;
    foreach (lc, child->targetlist)
    {
        TargetEntry *tle = (TargetEntry *) lfirst(lc);
        if (tle->resjunk || tle->resno != ++i)
            return;
    }
    /* The planner holds the table's lock. */
    Relation rel = table_open(rte->relid, NoLock);
    if (!numbered_insert_target(rel, i) ||
        checks_read_numbers(mt, linitial_int(mt->resultRelations), rel))
    {
        table_close(rel, NoLock);
        return;
    }
    CustomScan *cs = makeNode(CustomScan);
    cs->scan.plan.startup_cost = child->total_cost;
    cs->scan.plan.total_cost = child->total_cost;
    cs->scan.plan.plan_rows = child->plan_rows;
    cs->scan.plan.plan_width = child->plan_width;
    cs->scan.plan.parallel_safe = false;
    cs->scan.plan.lefttree = child;
    cs->scan.scanrelid = 0;
    List *tlist = NIL;
    foreach (lc, child->targetlist)
    {
        TargetEntry *tle = (TargetEntry *) lfirst(lc);
        Expr *expr;
        /* A dropped column stays the NULL constant the INSERT checks for. */
        if (TupleDescAttr(RelationGetDescr(rel), tle->resno - 1)->attisdropped)
            expr = (Expr *) copyObjectImpl(tle->expr);
        else
            expr = (Expr *) makeVar(OUTER_VAR, tle->resno, exprType((Node *) tle->expr),
                                    exprTypmod((Node *) tle->expr),
                                    exprCollation((Node *) tle->expr), 0);
        tlist = lappend(tlist, makeTargetEntry(expr, tle->resno, tle->resname, false));
    }
    table_close(rel, NoLock);
    cs->scan.plan.targetlist = tlist;
    cs->custom_private = list_make1_oid(rte->relid);
    cs->methods = &scan_methods;
    outerPlan(mt) = (Plan *) cs;
}

PlannedStmt *number_planner(Query *parse, const char *query_string, int cursor_options,
                            ParamListInfo params)
{
    PlannedStmt *stmt = prev_planner_hook
                            ? prev_planner_hook(parse, query_string, cursor_options, params)
                            : standard_planner(parse, query_string, cursor_options, params);
    if (stmt->commandType == CMD_INSERT && !stmt->hasModifyingCTE && stmt->planTree != NULL &&
        IsA(stmt->planTree, ModifyTable))
        add_node(stmt);
    return stmt;
}

} // namespace

void tree_prenumber_init(void)
{
    RegisterCustomScanMethods(&scan_methods);
    prev_planner_hook = planner_hook;
    planner_hook = number_planner;
    pg::callbacks::on_xact(forget_predictions, nullptr);
    pg::callbacks::on_subxact(forget_aborted, nullptr);
}

/*
 * The insert trigger's question: are these rows (transition-table order) the
 * ones the node handed on with predicted numbers, unchanged?  A match is
 * consumed.
 */
bool tree_prediction_match(TreeInfo *ti, int n, const Datum *ids, const Datum *root,
                           const int32 *lft, const int32 *rgt, const int32 *depth)
{
    for (Prediction **pp = &predictions; *pp; pp = &(*pp)->next)
    {
        Prediction *p = *pp;
        if (p->relid != ti->relid || p->n != n)
            continue;
        bool same = true;
        for (int i = 0; same && i < n; i++)
            same = p->lft[i] == lft[i] && p->rgt[i] == rgt[i] && p->depth[i] == depth[i] &&
                   tree_cmp_id(ti, p->ids[i], ids[i]) == 0 &&
                   (!p->root || tree_cmp_id(ti, p->root[i], root[i]) == 0);
        if (same)
        {
            drop_prediction(pp);
            return true;
        }
    }
    return false;
}
