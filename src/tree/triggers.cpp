/*
 * triggers.cpp: the triggers tree_attach installs, keeping the numbering right
 * under plain INSERT, UPDATE, DELETE and COPY.
 *
 *   chronicle_tree_1_lock    BEFORE INSERT OR UPDATE OR DELETE, per statement:
 *                            takes the table lock (exec.cpp) before any row is
 *                            touched, and notes the maintenance generation
 *   chronicle_tree_2_guard   AFTER UPDATE OF lft, rgt, depth, per row, WHEN one
 *                            of them changes and chronicle is not writing
 *                            (chronicle.tree_maintenance): TR005
 *   chronicle_tree_3_insert  AFTER INSERT, per statement, with the new rows
 *   chronicle_tree_4_moved   AFTER UPDATE OF parent [, scope], per row, WHEN one
 *                            of them changes: remembers the row
 *   chronicle_tree_5_update  AFTER UPDATE, per statement: moves what was remembered
 *   chronicle_tree_6_delete  AFTER DELETE, per statement, with the old rows
 *
 * A statement that changes one node, with no other tree maintenance since it
 * began, gets the bounded single-node operation of ops.cpp.  Anything else (a
 * multi-row statement, or one whose captured numbers another statement has
 * since shifted: foreign-key cascades, user triggers) renumbers the trees it
 * touched once, in O(n log n) (renumber.cpp).  Maintenance statements run as
 * the table owner; while they run, every tree trigger stands aside.
 */
#include "pg/callbacks.h"
#include "tree/tree.h"
#include "errors.h"

extern "C" {
#include "access/xact.h"
#include "access/htup_details.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
}

namespace {

constexpr int MAX_DEPTH = 64;
uint64 generation_at[MAX_DEPTH];

/* Rows an UPDATE statement re-parented, kept until its AFTER STATEMENT trigger. */
struct Pending
{
    Oid relid;
    int depth;
    int n, cap;
    Datum *ids, *old_scope, *new_scope;
    bool *old_scope_null, *new_scope_null;
    Pending *next;
};
Pending *pending = NULL; /* in TopTransactionContext */

void xact_callback(XactEvent event, void *arg)
{
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
        event == XACT_EVENT_PREPARE)
        pending = NULL;
}

Pending *find_pending(Oid relid, int depth, bool create)
{
    for (Pending *p = pending; p; p = p->next)
        if (p->relid == relid && p->depth == depth)
            return p;
    if (!create)
        return NULL;
    Pending *p = (Pending *) MemoryContextAllocZero(TopTransactionContext, sizeof(Pending));
    p->relid = relid;
    p->depth = depth;
    p->next = pending;
    pending = p;
    return p;
}

TriggerData *trigger_data(FunctionCallInfo fcinfo)
{
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "chronicle tree trigger functions can only be called as triggers");
    return (TriggerData *) fcinfo->context;
}

/* Still at the generation noted when the statement began? */
bool undisturbed(void)
{
    int d = tree_trigger_depth();
    return d < MAX_DEPTH && generation_at[d] == tree_generation();
}

/* One row of a transition table, by attribute. */
struct Captured
{
    Datum id, parent, scope;
    bool parent_null, scope_null, lft_null;
    int32 lft, rgt, depth;
    int seq;
    char *scope_text;
    uint32 key;
    bool new_tree; /* per_root: the tree of a root this INSERT adds */
    Datum moved_to; /* an UPDATE's row that left its scope: the scope it joined */
    bool moved_to_null;
};

/* An INSERT that sets lft, rgt or depth on some of its rows but not all three
 * on every row: TR005. */
void managed_columns_error(TreeInfo *ti)
{
    throw pg::Error(CHRONICLE_MANAGED_COLUMN,
                    pg::format("columns lft, rgt and depth of tree table %s are managed by chronicle",
                               ti->qtable),
                    "An INSERT must leave them NULL (or, restoring a dump, give all three on "
                    "every row, forming valid trees).",
                    "Use chronicle.tree_insert() to place a node.");
}

/* A row without an id names no node (tree_attach wants the id column NOT
 * NULL; the table's owner may drop that since). */
[[noreturn]] void null_id_error(TreeInfo *ti)
{
    throw pg::Error(ERRCODE_NOT_NULL_VIOLATION,
                    pg::format("the id column of tree table %s must not be NULL", ti->qtable), "",
                    "Declare it NOT NULL again (a primary key is).");
}

/* numbered (for an INSERT): how many rows came with all of lft, rgt and depth. */
Captured *capture(TreeInfo *ti, Relation rel, Tuplestorestate *store, int *count, bool insert,
                  int *numbered = NULL)
{
    if (numbered)
        *numbered = 0;
    int cap = 64, n = 0;
    Captured *rows = (Captured *) palloc(sizeof(Captured) * cap);
    TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
    int16 idlen, sclen = 0;
    bool idbyval, scbyval = true;
    get_typlenbyval(ti->id_type, &idlen, &idbyval);
    if (ti->scope_att)
        get_typlenbyval(ti->scope_type, &sclen, &scbyval);
    tuplestore_rescan(store);
    while (tuplestore_gettupleslot(store, true, false, slot))
    {
        if (n == cap)
        {
            cap *= 2;
            rows = (Captured *) repalloc_huge(rows, sizeof(Captured) * cap);
        }
        Captured *c = &rows[n];
        bool isnull, rn, dn;
        c->seq = n;
        Datum id = slot_getattr(slot, ti->id_att, &isnull);
        if (isnull)
            null_id_error(ti);
        c->id = datumCopy(id, idbyval, idlen);
        c->parent = slot_getattr(slot, ti->parent_att, &c->parent_null);
        if (!c->parent_null)
            c->parent = datumCopy(c->parent, idbyval, idlen);
        Datum l = slot_getattr(slot, ti->lft_att, &c->lft_null);
        Datum r = slot_getattr(slot, ti->rgt_att, &rn);
        Datum d = slot_getattr(slot, ti->depth_att, &dn);
        if (insert && (!c->lft_null || !rn || !dn))
        {
            if (c->lft_null || rn || dn)
                managed_columns_error(ti);
            if (numbered)
                (*numbered)++;
        }
        c->lft = c->lft_null ? 0 : DatumGetInt32(l);
        c->rgt = rn ? 0 : DatumGetInt32(r);
        c->depth = dn ? 0 : DatumGetInt32(d);
        c->scope_null = true;
        c->scope = (Datum) 0;
        c->key = 0;
        c->new_tree = false;
        if (ti->per_root)
        {
            /* The tree key is tree_root: managed (NULL on INSERT, resolved
             * from the parents by resolve_roots, or given with lft, rgt and
             * depth by a restore), the old row's on DELETE. */
            c->scope = slot_getattr(slot, ti->scope_att, &c->scope_null);
            if (insert && c->scope_null != c->lft_null)
                throw pg::Error(CHRONICLE_MANAGED_COLUMN,
                                pg::format("columns lft, rgt, depth and tree_root of tree table %s "
                                           "are managed by chronicle",
                                           ti->qtable),
                                "An INSERT must leave them NULL (or, restoring a dump, give all "
                                "four on every row, forming valid trees).",
                                "Use chronicle.tree_insert() to place a node.");
            if (!c->scope_null)
            {
                c->scope = datumCopy(c->scope, idbyval, idlen);
                c->key = DatumGetUInt32(FunctionCall1Coll(&ti->scope_hash, ti->scope_coll, c->scope));
            }
            c->scope_text = c->scope_null ? (char *) "" : tree_id_text(ti, c->scope);
        }
        else if (ti->scope_att)
        {
            c->scope = slot_getattr(slot, ti->scope_att, &c->scope_null);
            if (c->scope_null)
                throw pg::Error(ERRCODE_NOT_NULL_VIOLATION,
                                pg::format("the scope column of tree table %s must not be NULL",
                                           ti->qtable));
            c->scope = datumCopy(c->scope, scbyval, sclen);
            c->key = DatumGetUInt32(FunctionCall1Coll(&ti->scope_hash, ti->scope_coll, c->scope));
        }
        if (!ti->per_root)
            c->scope_text = ti->scope_att ? tree_scope_text(ti, c->scope, c->scope_null)
                                          : (char *) "";
        n++;
    }
    ExecDropSingleTupleTableSlot(slot);
    *count = n;
    return rows;
}

/* Lock order: by lock key, then scope text, then statement order. */
int by_scope(const void *a, const void *b)
{
    const Captured *x = (const Captured *) a, *y = (const Captured *) b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    int r = strcmp(x->scope_text, y->scope_text);
    if (r)
        return r;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Sort rows by scope and lock every scope they touch, in lock order.  per_root:
 * an INSERT locks the existing root trees it joins (a tree it creates is seen
 * by nobody else yet); an UPDATE or DELETE already holds the table lock
 * exclusively (its BEFORE STATEMENT trigger took it).
 */
void lock_scopes(TreeInfo *ti, Captured *rows, int n, bool insert = true)
{
    if (!ti->scope_att)
    {
        /* One tree, and the rows are already in statement order. */
        if (n > 0)
            tree_lock_for_write(ti, rows[0].scope, rows[0].scope_null);
        return;
    }
    qsort(rows, n, sizeof(Captured), by_scope);
    if (ti->per_root && !insert)
        return;
    for (int i = 0; i < n; i++)
        if (i == 0 || rows[i - 1].key != rows[i].key ||
            strcmp(rows[i - 1].scope_text, rows[i].scope_text) != 0)
        {
            if (ti->per_root && rows[i].new_tree)
                continue;
            tree_lock_for_write(ti, rows[i].scope, rows[i].scope_null);
        }
}

/* Calls fn(scope, ids of that scope in statement order) for each scope of rows. */
template <typename Fn>
void per_scope(Captured *rows, int n, Fn fn)
{
    Datum *ids = (Datum *) palloc(sizeof(Datum) * (n > 0 ? n : 1));
    int i = 0;
    while (i < n)
    {
        int j = i;
        while (j < n && rows[j].key == rows[i].key &&
               strcmp(rows[j].scope_text, rows[i].scope_text) == 0)
        {
            ids[j - i] = rows[j].id;
            j++;
        }
        fn(&rows[i], ids, j - i);
        i = j;
    }
}

void set_key(TreeInfo *ti, Captured *c, Datum key, bool new_tree)
{
    c->new_tree = new_tree;
    c->scope = key;
    c->scope_null = false;
    c->key = DatumGetUInt32(FunctionCall1Coll(&ti->scope_hash, ti->scope_coll, key));
    c->scope_text = tree_id_text(ti, key);
}

/*
 * per_root: the root tree each new row joins.  A new root is its own tree; a
 * child joins its parent's, whether the parent is new in the same statement
 * or an existing row (whose tree_root is stable: changing it needs the table
 * lock exclusively, and an INSERT holds it shared).  Rows whose parent chain
 * is a cycle among the new rows, or ends in a missing row, are errors.
 */
void resolve_roots(TreeInfo *ti, Captured *rows, int n)
{
    int *byid = (int *) palloc(sizeof(int) * (n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        byid[i] = i;
    TreeRows<Captured> sorting = {ti, rows};
    qsort_arg(byid, n, sizeof(int), tree_rows_by_id<Captured>, &sorting);
    auto find_new = [&](Datum id) -> Captured * {
        int i = tree_rows_find(ti, rows, byid, n, id);
        return i < 0 ? NULL : &rows[i];
    };
    Captured **chain = (Captured **) palloc(sizeof(Captured *) * (n + 1));
    for (int i = 0; i < n; i++)
    {
        if (!rows[i].scope_null)
            continue;
        /* Up through new rows until a resolved one, a root or an existing parent. */
        int len = 0;
        Captured *c = &rows[i];
        Datum key = (Datum) 0;
        bool new_tree = false;
        while (true)
        {
            CHECK_FOR_INTERRUPTS();
            if (!c->scope_null)
            {
                key = c->scope;
                new_tree = c->new_tree;
                break;
            }
            if (len > n)
            {
                const char *node = tree_id_text(ti, c->id);
                throw pg::Error(CHRONICLE_INVALID_MOVE,
                                pg::format("node %s would be its own ancestor in tree table %s",
                                           node, ti->qtable),
                                "The parent column contains a cycle.");
            }
            chain[len++] = c;
            if (c->parent_null)
            {
                key = c->id;
                new_tree = true;
                break;
            }
            Captured *up = find_new(c->parent);
            if (up)
            {
                c = up;
                continue;
            }
            TreeNode parent;
            if (!tree_fetch_node(ti, c->parent, (Datum) 0, true, &parent) || parent.scope_null)
            {
                const char *parent_text = tree_id_text(ti, c->parent), *node_text = tree_id_text(ti, c->id);
                throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                                pg::format("parent %s of node %s does not exist in tree table %s",
                                           parent_text, node_text, ti->qtable));
            }
            key = parent.scope;
            break;
        }
        for (int k = 0; k < len; k++)
            set_key(ti, chain[k], key, new_tree);
    }
}

/* The distinct tree keys of rows sorted by scope (lock_scopes). */
int distinct_keys(TreeInfo *ti, Captured *rows, int n, Datum *keys)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!rows[i].scope_null && (k == 0 || tree_cmp_id(ti, keys[k - 1], rows[i].scope) != 0))
            keys[k++] = rows[i].scope; /* equal keys are adjacent after lock_scopes */
    return k;
}

struct AsOwner
{
    Oid user;
    int sec;
};

AsOwner begin_maintenance(TreeInfo *ti)
{
    AsOwner o;
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "SPI_connect failed");
    o.user = tree_switch_to_owner(ti, &o.sec);
    return o;
}

void end_maintenance(AsOwner o)
{
    tree_switch_back(o.user, o.sec);
    SPI_finish();
}

/*
 * The end of an INSERT's maintenance.  The lock trigger of an UPDATE knows
 * the INSERT of its own statement (ON CONFLICT DO UPDATE) by transaction,
 * command id and depth (exec.cpp, tree_lock_table_upgrade), so the next
 * statement must run under a new command id.  A write here used to make sure
 * of that; an INSERT that writes nothing more (rows stored with their
 * predicted numbers, or a restore's own numbers) marks the command id used,
 * so that the statement's end advances it as before.
 */
void statement_done(void)
{
    (void) GetCurrentCommandId(true);
}

/* The tree a trigger must maintain, or NULL when there is nothing to do:
 * chronicle's own maintenance statements are running, or the table is no
 * longer attached. */
TreeInfo *tree_for_trigger(TriggerData *td)
{
    /* A trigger function runs one level below the statement that fired it. */
    if (tree_busy(tree_trigger_depth() - 1))
        return NULL;
    TreeInfo *ti = tree_info(RelationGetRelid(td->tg_relation), true);
    /* A Citus shell holds no rows: the triggers of its shards keep them. */
    if (ti && tree_is_shell(ti))
        return NULL;
    return ti;
}

} // namespace

void tree_triggers_init(void)
{
    pg::callbacks::on_xact(xact_callback, nullptr);
}

SQL_FUNCTION(chronicle_tree_lock_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        TreeInfo *ti = tree_for_trigger(td);
        if (!ti)
            return PointerGetDatum(NULL);
        /* A scoped INSERT only shares the table; everything else holds it. */
        if (ti->scope_att && TRIGGER_FIRED_BY_INSERT(td->tg_event))
            tree_lock_table_for_insert(ti);
        else if (ti->scope_att && TRIGGER_FIRED_BY_UPDATE(td->tg_event))
            tree_lock_table_upgrade(ti);
        else
            tree_lock_table(ti, true);
        int d = tree_trigger_depth();
        if (d < MAX_DEPTH)
            generation_at[d] = tree_generation();
        if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
        {
            Pending *p = find_pending(ti->relid, d, false);
            if (p)
                p->n = 0;
        }
        return PointerGetDatum(NULL);
}

SQL_FUNCTION(chronicle_tree_maintaining)
{
    /* Evaluated in a WHEN clause, at the depth of the statement itself. */
    return BoolGetDatum(tree_busy(tree_trigger_depth()));
}

SQL_FUNCTION(chronicle_tree_guard_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        /* The trigger's WHEN clause already skips chronicle's own writes. */
        if (tree_busy(tree_trigger_depth() - 1))
            return PointerGetDatum(NULL);
        TreeInfo *ti = tree_info(RelationGetRelid(td->tg_relation), true);
        throw pg::Error(CHRONICLE_MANAGED_COLUMN,
                        pg::format("columns lft, rgt and depth of tree table %s are managed by "
                                   "chronicle",
                                   ti ? ti->qtable : RelationGetRelationName(td->tg_relation)),
                        "", "Change the parent column, or use chronicle.tree_move().");
}

SQL_FUNCTION(chronicle_tree_insert_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        TreeInfo *ti = tree_for_trigger(td);
        if (!ti || !td->tg_newtable)
            return PointerGetDatum(NULL);
        int n, numbered;
        Captured *rows = capture(ti, td->tg_relation, td->tg_newtable, &n, true, &numbered);
        if (n == 0)
            return PointerGetDatum(NULL);
        if (numbered > 0 && numbered < n)
            managed_columns_error(ti);
        if (numbered == n && n > 1)
        {
            /* Rows stored with the numbers the INSERT's plan predicted for
             * them (prenumber.cpp) are new rows like any: numbered below,
             * where those whose prediction holds are not written again. */
            Datum *ids = (Datum *) palloc(sizeof(Datum) * n), *k = (Datum *) palloc(sizeof(Datum) * n);
            int32 *l = (int32 *) palloc(sizeof(int32) * n), *r = (int32 *) palloc(sizeof(int32) * n),
                  *d = (int32 *) palloc(sizeof(int32) * n);
            for (int i = 0; i < n; i++)
            {
                ids[i] = rows[i].id;
                k[i] = rows[i].scope; /* per_root: tree_root */
                l[i] = rows[i].lft;
                r[i] = rows[i].rgt;
                d[i] = rows[i].depth;
            }
            if (tree_prediction_match(ti, n, ids, ti->per_root ? k : NULL, l, r, d))
            {
                for (int i = 0; i < n; i++)
                {
                    rows[i].lft_null = true;
                    if (ti->per_root)
                    {
                        /* As captured without a tree_root: resolve_roots finds it. */
                        rows[i].scope_null = true;
                        rows[i].scope = (Datum) 0;
                        rows[i].key = 0;
                        rows[i].scope_text = (char *) "";
                    }
                }
                numbered = 0;
            }
        }
        bool single = n == 1 && undisturbed();
        AsOwner o = begin_maintenance(ti);
        Datum *stmt_ids = NULL;
        if (ti->per_root)
        {
            stmt_ids = (Datum *) palloc(sizeof(Datum) * n);
            for (int i = 0; i < n; i++)
                stmt_ids[i] = rows[i].id;
            resolve_roots(ti, rows, n);
        }
        lock_scopes(ti, rows, n);
        if (numbered == n)
        {
            /* Rows that bring their own numbers (a data-only restore, whose
             * COPY fires this trigger): kept only if every tree they joined
             * is valid with them, read under the tree locks with the latest
             * snapshot.  The rows already there keep their numbers, so valid
             * new rows can only be whole new trees after them, numbered as
             * inserting them one by one in that order would have numbered
             * them: no INSERT can give a row numbers chronicle would not. */
            per_scope(rows, n, [&](Captured *first, Datum *ids, int k) {
                CommandCounterIncrement();
                PushActiveSnapshot(GetLatestSnapshot());
                char *problem = NULL;
                int64 problems = tree_scope_problems(ti, first->scope, first->scope_null, &problem);
                PopActiveSnapshot();
                if (problems > 0)
                    throw pg::Error(CHRONICLE_MANAGED_COLUMN,
                                    pg::format("the lft, rgt and depth an INSERT gave rows of tree "
                                               "table %s do not form valid trees",
                                               ti->qtable),
                                    ti->scope_att ? pg::format("Scope %s: %s", first->scope_text, problem)
                                                  : pg::format("%s", problem),
                                    "Leave lft, rgt and depth NULL and chronicle numbers the rows.");
            });
            end_maintenance(o);
            statement_done();
            return PointerGetDatum(NULL);
        }
        if (single)
            tree_place_new_leaf(ti, rows[0].id, rows[0].scope, rows[0].scope_null);
        else if (ti->per_root)
        {
            Datum *keys = (Datum *) palloc(sizeof(Datum) * n);
            int nk = distinct_keys(ti, rows, n, keys);
            tree_renumber_roots(ti, keys, nk, false, false, stmt_ids, n, true);
        }
        else
            per_scope(rows, n, [&](Captured *first, Datum *ids, int k) {
                tree_renumber(ti, first->scope, first->scope_null, false, ids, k, true);
            });
        end_maintenance(o);
        statement_done();
        return PointerGetDatum(NULL);
}

SQL_FUNCTION(chronicle_tree_moved_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        TreeInfo *ti = tree_for_trigger(td);
        if (!ti)
            return PointerGetDatum(NULL);
        TupleDesc desc = RelationGetDescr(td->tg_relation);
        Pending *p = find_pending(ti->relid, tree_trigger_depth(), true);
        MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
        if (p->n == p->cap)
        {
            int cap = p->cap ? p->cap * 2 : 16;
            auto grow = [&](void *ptr, size_t size) {
                return ptr ? repalloc_huge(ptr, size * cap) : palloc(size * cap);
            };
            p->ids = (Datum *) grow(p->ids, sizeof(Datum));
            p->old_scope = (Datum *) grow(p->old_scope, sizeof(Datum));
            p->new_scope = (Datum *) grow(p->new_scope, sizeof(Datum));
            p->old_scope_null = (bool *) grow(p->old_scope_null, sizeof(bool));
            p->new_scope_null = (bool *) grow(p->new_scope_null, sizeof(bool));
            p->cap = cap;
        }
        int16 len;
        bool byval;
        bool isnull;
        get_typlenbyval(ti->id_type, &len, &byval);
        Datum id = heap_getattr(td->tg_newtuple, ti->id_att, desc, &isnull);
        if (isnull)
        {
            MemoryContextSwitchTo(old);
            null_id_error(ti);
        }
        p->ids[p->n] = datumCopy(id, byval, len);
        p->old_scope_null[p->n] = p->new_scope_null[p->n] = true;
        p->old_scope[p->n] = p->new_scope[p->n] = (Datum) 0;
        if (ti->scope_att)
        {
            get_typlenbyval(ti->scope_type, &len, &byval);
            Datum os = heap_getattr(td->tg_trigtuple, ti->scope_att, desc, &p->old_scope_null[p->n]);
            Datum ns = heap_getattr(td->tg_newtuple, ti->scope_att, desc, &p->new_scope_null[p->n]);
            if (p->new_scope_null[p->n] && !ti->per_root)
            {
                MemoryContextSwitchTo(old);
                throw pg::Error(ERRCODE_NOT_NULL_VIOLATION,
                                pg::format("the scope column of tree table %s must not be NULL",
                                           ti->qtable));
            }
            p->old_scope[p->n] = p->old_scope_null[p->n] ? (Datum) 0 : datumCopy(os, byval, len);
            p->new_scope[p->n] = p->new_scope_null[p->n] ? (Datum) 0 : datumCopy(ns, byval, len);
        }
        p->n++;
        MemoryContextSwitchTo(old);
        return PointerGetDatum(NULL);
}

SQL_FUNCTION(chronicle_tree_update_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        TreeInfo *ti = tree_for_trigger(td);
        if (!ti)
            return PointerGetDatum(NULL);
        Pending *p = find_pending(ti->relid, tree_trigger_depth(), false);
        if (!p || p->n == 0)
            return PointerGetDatum(NULL);
        int n = p->n;
        p->n = 0;
        /* Each moved row once per scope it leaves and once per scope it joins. */
        Captured *rows = (Captured *) palloc0(sizeof(Captured) * n * 2);
        int k = 0;
        bool scope_moves = false;
        for (int i = 0; i < n; i++)
        {
            Captured *c = &rows[k++];
            c->id = p->ids[i];
            c->seq = i;
            c->scope = p->new_scope[i];
            c->scope_null = p->new_scope_null[i];
            c->lft = 1; /* marks a moved row */
            if (ti->per_root)
            {
                /* Locked by its current tree; where it goes is read below. */
                c->scope_text = c->scope_null ? pstrdup("") : tree_id_text(ti, c->scope);
                c->key = c->scope_null ? 0
                                       : DatumGetUInt32(FunctionCall1Coll(
                                             &ti->scope_hash, ti->scope_coll, c->scope));
            }
            else if (ti->scope_att)
            {
                c->scope_text = tree_scope_text(ti, c->scope, c->scope_null);
                c->key = DatumGetUInt32(
                    FunctionCall1Coll(&ti->scope_hash, ti->scope_coll, c->scope));
                char *old_text = tree_scope_text(ti, p->old_scope[i], p->old_scope_null[i]);
                if (strcmp(old_text, c->scope_text) != 0)
                {
                    scope_moves = true;
                    Captured *o = &rows[k++];
                    o->id = p->ids[i];
                    o->seq = n + i;
                    o->scope = p->old_scope[i];
                    o->scope_null = p->old_scope_null[i];
                    o->scope_text = old_text;
                    o->key = o->scope_null ? 0
                                           : DatumGetUInt32(FunctionCall1Coll(
                                                 &ti->scope_hash, ti->scope_coll, o->scope));
                    o->lft = 0; /* left this scope */
                    o->moved_to = c->scope;
                    o->moved_to_null = c->scope_null;
                }
            }
            else
                c->scope_text = pstrdup("");
        }
        bool single = n == 1 && !scope_moves && undisturbed();
        AsOwner o = begin_maintenance(ti);
        lock_scopes(ti, rows, k, false);
        if (single)
        {
            TreeNode node;
            if (tree_fetch_node(ti, rows[0].id, rows[0].scope, rows[0].scope_null, &node))
                tree_move_node(ti, node.id, node.scope, node.scope_null, node.parent, node.parent_null,
                               ti->order_att ? 'o' : 'l', false);
        }
        else if (ti->per_root)
        {
            /*
             * The trees the moved rows leave, and those of their new parents:
             * a parent that moves too, or hangs below a row that moves, is in
             * a tree left, so these trees hold every row whose place changes.
             * (The table lock is held exclusively: an UPDATE's.)
             */
            Datum *keys = (Datum *) palloc(sizeof(Datum) * (2 * k + 1));
            Datum *ids = (Datum *) palloc(sizeof(Datum) * (k + 1));
            int nk = 0;
            for (int i = 0; i < k; i++)
            {
                ids[i] = rows[i].id;
                if (!rows[i].scope_null)
                    keys[nk++] = rows[i].scope;
                TreeNode node, parent;
                if (tree_fetch_node(ti, rows[i].id, (Datum) 0, true, &node) && !node.parent_null &&
                    tree_fetch_node(ti, node.parent, (Datum) 0, true, &parent) && !parent.scope_null)
                    keys[nk++] = parent.scope;
            }
            tree_renumber_roots(ti, keys, nk, false, false, ids, k);
        }
        else
        {
            if (scope_moves)
            {
                /* A node changing scope takes its descendants along. */
                for (int i = 0; i < k; i++)
                {
                    if (rows[i].lft != 0)
                        continue;
                    TreeNode node;
                    /* Its row is in the scope it joined (its numbers still the old scope's). */
                    if (!tree_fetch_node(ti, rows[i].id, rows[i].moved_to, rows[i].moved_to_null, &node) ||
                        node.lft_null)
                        continue;
                    Datum args[4] = {Int32GetDatum(node.lft), Int32GetDatum(node.rgt), node.scope,
                                     rows[i].scope};
                    tree_run(tree_plan(ti, P_SET_SCOPE), args, NULL, true);
                }
            }
            per_scope(rows, k, [&](Captured *first, Datum *ids, int m) {
                /* Only rows that joined this scope (or moved within it) are placed anew. */
                Datum *moved = (Datum *) palloc(sizeof(Datum) * (m > 0 ? m : 1));
                int nm = 0;
                for (int i = 0; i < m; i++)
                    if (first[i].lft != 0)
                        moved[nm++] = ids[i];
                tree_renumber(ti, first->scope, first->scope_null, false, moved, nm);
            });
        }
        end_maintenance(o);
        return PointerGetDatum(NULL);
}

/* The nearest ancestor of a deleted row that was not deleted (for promote). */
static int find_captured(TreeInfo *ti, Captured *rows, int n, Datum id)
{
    for (int i = 0; i < n; i++)
        if (tree_cmp_id(ti, rows[i].id, id) == 0)
            return i;
    return -1;
}

SQL_FUNCTION(chronicle_tree_delete_trigger)
{
        TriggerData *td = trigger_data(fcinfo);
        TreeInfo *ti = tree_for_trigger(td);
        if (!ti || !td->tg_oldtable)
            return PointerGetDatum(NULL);
        int n;
        Captured *rows = capture(ti, td->tg_relation, td->tg_oldtable, &n, false);
        if (n == 0)
            return PointerGetDatum(NULL);
        bool single = n == 1 && undisturbed() && !rows[0].lft_null;
        AsOwner o = begin_maintenance(ti);
        lock_scopes(ti, rows, n, false);
        if (single)
        {
            TreeNode gone;
            gone.id = rows[0].id;
            gone.lft = rows[0].lft;
            gone.rgt = rows[0].rgt;
            gone.depth = rows[0].depth;
            gone.parent = rows[0].parent;
            gone.parent_null = rows[0].parent_null;
            gone.scope = rows[0].scope;
            gone.scope_null = rows[0].scope_null;
            tree_close_deleted(ti, &gone, ti->on_delete);
        }
        else
        {
            int16 idlen;
            bool idbyval;
            char align;
            get_typlenbyvalalign(ti->id_type, &idlen, &idbyval, &align);
            per_scope(rows, n, [&](Captured *first, Datum *ids, int m) {
                ArrayType *arr = construct_array(ids, m, ti->id_type, idlen, idbyval, align);
                /* scoped_ids: parents are looked for in this scope ($2). */
                Datum args[2] = {PointerGetDatum(arr), first->scope};
                if (ti->on_delete == DEL_RESTRICT)
                {
                    tree_run(tree_plan(ti, P_COUNT_CHILDREN), args, NULL, false);
                    if (SPI_processed > 0)
                    {
                        const char *node = tree_id_text(
                            ti, SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
                                              &first->lft_null));
                        throw pg::Error(
                            ERRCODE_RESTRICT_VIOLATION,
                            pg::format("a deleted node of tree table %s has children",
                                       ti->qtable),
                            pg::format("Node %s would lose its parent; the table's on_delete "
                                       "mode is restrict.",
                                       node));
                    }
                }
                else if (ti->on_delete == DEL_PROMOTE)
                {
                    for (int i = 0; i < m; i++)
                    {
                        /* Children go to the nearest ancestor that survives. */
                        Captured *c = &first[i];
                        Datum up = c->parent;
                        bool up_null = c->parent_null;
                        for (int guard = 0; !up_null && guard <= m; guard++)
                        {
                            int at = find_captured(ti, first, m, up);
                            if (at < 0)
                                break;
                            up = first[at].parent;
                            up_null = first[at].parent_null;
                        }
                        Datum rp[3] = {c->id, up, first->scope};
                        char rn[3] = {' ', up_null ? 'n' : ' ', first->scope_null ? 'n' : ' '};
                        tree_run(tree_plan(ti, P_REPARENT), rp, rn, true);
                    }
                }
                else
                {
                    /* Cascade, level by level down the parent column. */
                    while (true)
                    {
                        CHECK_FOR_INTERRUPTS();
                        tree_run(tree_plan(ti, P_DELETE_CHILDREN), args, NULL, true);
                        uint64 got = SPI_processed;
                        if (got == 0)
                            break;
                        Datum *next = (Datum *) palloc(sizeof(Datum) * got);
                        for (uint64 i = 0; i < got; i++)
                        {
                            bool isnull;
                            next[i] = datumCopy(SPI_getbinval(SPI_tuptable->vals[i],
                                                              SPI_tuptable->tupdesc, 1, &isnull),
                                                idbyval, idlen);
                        }
                        args[0] = PointerGetDatum(
                            construct_array(next, (int) got, ti->id_type, idlen, idbyval, align));
                    }
                }
                if (!ti->per_root)
                    tree_renumber(ti, first->scope, first->scope_null, false, NULL, 0);
            });
            if (ti->per_root)
            {
                Datum *keys = (Datum *) palloc(sizeof(Datum) * n);
                int nk = distinct_keys(ti, rows, n, keys);
                tree_renumber_roots(ti, keys, nk, false, false, NULL, 0);
            }
        }
        end_maintenance(o);
        return PointerGetDatum(NULL);
}
