/*
 * tree.h: nested sets on the user's own tables (docs/reference/tree.md).
 *
 * src/tree is C-style (pg/boundary.h): palloc'd arrays, no C++ containers.
 * Domain errors are thrown as pg::Error only from frames reached from an
 * SQL_FUNCTION body through chronicle code alone, and every PostgreSQL call
 * that builds an error's text (catalog look-ups, output functions) runs
 * before the Error exists, so no longjmp can pass over its strings.
 *
 * Layers, each file calling only those above it:
 *   exec.cpp      SPI execution of maintenance statements, tree locks
 *   meta.cpp      the attachment of a table (chronicle._tree_tables), cached per
 *                 backend with its prepared plans, invalidated by relcache events
 *   renumber.cpp  numbering a whole tree (table + scope) from its parent column
 *   prenumber.cpp the numbers of an INSERT's new trees, given before their rows are stored
 *   ops.cpp       bounded single-node operations: insert a leaf, move, delete
 *   query.cpp     tree_subtree/ancestors/children, tree_validate
 *   api.cpp       tree_attach, tree_detach, tree_insert/move/delete/rebuild
 *   triggers.cpp  the triggers that keep the numbering right under plain SQL
 *   init.cpp      tree_init: the module's setting and every layer's callbacks
 */
#pragma once

#include "pg/boundary.h"

extern "C" {
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/sortsupport.h"
}

/* Every plan a tree table uses, prepared once per backend and table. */
enum TreePlan
{
    P_NODE,         /* lft, rgt, depth, parent, scope, ord of one id */
    P_SCOPE_ROWS,   /* id, parent, lft, rgt, depth, ord of one tree */
    P_MAX_RGT,      /* max(rgt) of one tree */
    P_SHIFT_INSERT, /* positions >= p move by d: open a gap (insert) or close one (delete) */
    P_SET_NODE,     /* lft, rgt, depth of one id */
    P_MOVE,         /* the bounded CASE update of a move */
    P_PROMOTE_GAP,  /* close positions a and b, lift (a, b) one level (promote) */
    P_DELETE_DESC,  /* delete the rows strictly inside (a, b) */
    P_REPARENT,     /* parent := $2 where parent = $1 */
    P_WRITE_BACK,   /* lft, rgt, depth from arrays, joined on id */
    P_SIBLINGS,     /* id, ord, lft of the children of a range at a depth */
    P_SET_SCOPE,    /* scope := $ of the rows inside [a, b] of a tree */
    P_SUBTREE,
    P_ANCESTORS,
    P_CHILDREN,
    P_COUNT_CHILDREN, /* rows whose parent is $1 */
    P_ROW_JSON,       /* to_jsonb of one row */
    P_DELETE_CHILDREN, /* delete the rows whose parent is in $1, returning their ids */
    P_DELETE_RANGE,    /* delete the rows inside [a, b] */
    P_DELETE_ONE,      /* delete one row by id */
    P_SCOPES,          /* the distinct scopes of the table */
    /* per_root numbering (the tree key is the column tree_root) */
    P_ROOT_ROWS,       /* as P_SCOPE_ROWS, of the trees in $1 and the ids in $2 */
    P_ALL_ROWS,        /* as P_SCOPE_ROWS, of the whole table */
    P_MOVE_TREE,       /* move a subtree [a, b] into another root tree */
    /* ids unique within their scope (scoped_ids) */
    P_NODE_SCOPES,     /* the scopes holding an id (at most two: found, or ambiguous) */
    N_TREE_PLANS
};

enum OnDelete
{
    DEL_CASCADE = 'c',
    DEL_PROMOTE = 'p',
    DEL_RESTRICT = 'r'
};

/* The attachment of one table, cached in CacheMemoryContext. */
struct TreeInfo
{
    Oid relid; /* hash key */
    bool valid;
    Oid owner;
    AttrNumber id_att, parent_att, scope_att, order_att, lft_att, rgt_att, depth_att;
    Oid id_type, scope_type, order_type;
    Oid id_coll, scope_coll, order_coll;
    char on_delete;
    /*
     * per_root: each root tree is numbered from 1 on its own and its rows hold
     * the root's id in the managed column tree_root.  The tree key ("scope"
     * below: scope_att, scope_type, qscope, scope_hash) is then tree_root, so
     * every plan, lock and check by scope works per root tree.
     */
    bool per_root;
    /*
     * scoped_ids: the table's unique key is (scope, id), not id alone, so an
     * id names a node only within its scope: every statement that addresses
     * rows by id (or by parent) is also qualified by the scope, passed as its
     * last parameter (meta.cpp).  Always so for a table distributed by Citus.
     */
    bool scoped_ids;
    /*
     * Citus (docs/design/citus.md): 0 for a table of this node; 'd' for a
     * distributed table, whose relation here is a shell (rows live in shards;
     * functions work on the local shard of a scope: tree_local_shard); 's' for
     * such a shard, on this node (its triggers keep its scopes numbered).
     * attached_here: the attachment is a row of chronicle._tree_tables on this
     * node, not read from the lock trigger's arguments (a shard, a worker's
     * shell).
     */
    char citus; /* 'l': the shell of a Citus local table (one shard, on the coordinator) */
    bool attached_here;
    FmgrInfo id_cmp, order_cmp, scope_cmp, scope_hash; /* btree comparison, hash */
    SortSupportData id_sort;                /* fast id comparison (int ids skip fmgr) */
    char *qtable;                           /* quoted schema.table */
    char *qid, *qparent, *qscope, *qorder;  /* quoted column names (qscope, qorder may be NULL) */
    char *eq_id, *eq_scope;                 /* "OPERATOR(nsp.=)": the types' own equality (eq_scope may be NULL) */
    SPIPlanPtr plans[N_TREE_PLANS];
};

/* init.cpp, from _PG_init */
void tree_init(void);

/* meta.cpp (tree_meta_init: from tree_init; hidden, not in chronicle.so's dynamic symbols) */
TreeInfo *tree_info(Oid relid, bool missing_ok);
/*
 * The table's lock (a writer's ROW EXCLUSIVE, a reader's ACCESS SHARE), taken
 * before a function reads its attachment: a detach, an attach or an ALTER
 * TABLE (ACCESS EXCLUSIVE) then cannot change it until the call ends.  Read
 * first and the lock taken later (by the function's first statement), the
 * call went on with the attachment of before its wait and statements planned
 * for the table after it (docs/design/locking.md).  Nothing for an oid that
 * names no relation (tree_info says what it is not).
 */
void tree_lock_before_reading(Oid relid, int lockmode);
__attribute__((visibility("hidden"))) void tree_meta_init(void);
SPIPlanPtr tree_plan(TreeInfo *ti, TreePlan which);
Datum tree_cast_id(TreeInfo *ti, Datum value, Oid type);
Datum tree_cast_scope(TreeInfo *ti, Datum value, Oid type);
/* A distributed tree (citus 'd'): the tree of the shard holding scope, which
 * must be on this node (0A000 naming the node that holds it otherwise); a
 * Citus local table's (citus 'l'): its one shard.  Others: ti itself. */
TreeInfo *tree_local_shard(TreeInfo *ti, Datum scope, bool scope_null);
/* A Citus shell (rows in shards; its own triggers stand aside). */
inline bool tree_is_shell(const TreeInfo *ti)
{
    return ti->citus == 'd' || ti->citus == 'l';
}
/* The lock trigger's arguments: the attachment, as a shard gets it. */
char *tree_trigger_args(const char *id, const char *parent, const char *scope, const char *order,
                        const char *on_delete, const char *numbering, bool scoped_ids);

/* exec.cpp */
int tree_run(SPIPlanPtr plan, Datum *values, const char *nulls, bool write);
void tree_read(SPIPlanPtr plan, Datum *values, const char *nulls, DestReceiver *dest);
/* Is chronicle's maintenance statement running at this trigger depth? */
bool tree_busy(int statement_depth);
extern bool tree_maintenance_setting; /* the GUC chronicle.tree_maintenance */
uint64 tree_generation(void);
void tree_lock_table(TreeInfo *ti, bool exclusive);
/* The same, by the table's oid (tree_detach, which needs no attachment). */
void tree_lock_relation(Oid relid, bool exclusive);
/* The lock trigger's: a scoped INSERT's share, and the UPDATE's exclusive
 * lock that replaces a share its own statement's INSERT trigger took (exec.cpp). */
void tree_lock_table_for_insert(TreeInfo *ti);
void tree_lock_table_upgrade(TreeInfo *ti);
void tree_lock_scope(TreeInfo *ti, Datum scope, bool isnull);
void tree_lock_for_write(TreeInfo *ti, Datum scope, bool isnull);
Oid tree_switch_to_owner(TreeInfo *ti, int *save_sec);
void tree_switch_back(Oid user, int sec);
int32 tree_get_int(HeapTuple tup, TupleDesc desc, int col, bool *isnull);
int tree_trigger_depth(void);
char *tree_id_text(TreeInfo *ti, Datum id);
char *tree_scope_text(TreeInfo *ti, Datum scope, bool isnull);

/* renumber.cpp: renumber one tree; the rows with lft NULL or listed in
 * moved[] (in that order) are placed as last children (or by order column). */
uint64 tree_renumber(TreeInfo *ti, Datum scope, bool scope_null, bool rebuild, Datum *moved,
                     int nmoved, bool inserted = false);
/* per_root: renumber the root trees keys[] plus the rows ids[] (new or moved;
 * NULL keys: the whole table), each root tree from 1, setting tree_root. */
uint64 tree_renumber_roots(TreeInfo *ti, Datum *keys, int nkeys, bool all, bool rebuild,
                           Datum *moved, int nmoved, bool inserted = false);

/* prenumber.cpp: the INSERT plan node that stores whole new trees with their
 * numbers (from tree_init), and the insert trigger's test of whether these
 * rows, in transition-table order, are the ones it predicted (consumed). */
void tree_prenumber_init(void);
bool tree_prediction_match(TreeInfo *ti, int n, const Datum *ids, const Datum *root,
                           const int32 *lft, const int32 *rgt, const int32 *depth);

/* query.cpp: tree_validate's problems of one tree, counted; *first describes one. */
int64 tree_scope_problems(TreeInfo *ti, Datum scope, bool scope_null, char **first);

/* ops.cpp */
struct TreeNode
{
    Datum id;
    int32 lft, rgt, depth;
    bool lft_null;
    Datum parent, scope, ord;
    bool parent_null, scope_null, ord_null;
};
/* The row of id (within scope, when the table's ids are scoped_ids). */
bool tree_fetch_node(TreeInfo *ti, Datum id, Datum scope, bool scope_null, TreeNode *out);
bool tree_fetch_node_snapshot(TreeInfo *ti, Datum id, Datum scope, bool scope_null, TreeNode *out);
/*
 * The node a function names: by id, within the scope when given (a scope
 * given on a table whose ids are unique in the table filters: a node in
 * another scope is not found).  With ids unique only within their scope and
 * no scope given, the one scope holding id; 21000 when several do.  latest:
 * with the latest snapshot (writers, under their lock), else the statement's.
 */
bool tree_locate(TreeInfo *ti, Datum id, bool given, Datum scope, bool latest, TreeNode *out);
/* TR002 for id (within the scope, when one was given). */
[[noreturn]] void tree_node_not_found(TreeInfo *ti, Datum id, bool given, Datum scope, const char *role);
/* TR003 when node (the row of id; role "node" or "parent") has no numbers. */
void tree_require_numbers(TreeInfo *ti, Datum id, const TreeNode *node, const char *role);
void tree_place_new_leaf(TreeInfo *ti, Datum id, Datum scope, bool scope_null);
/* placement: 'f'irst_child, 'l'ast_child, 'b'efore, 'a'fter, 'o'rdered child (triggers) */
void tree_move_node(TreeInfo *ti, Datum node, Datum scope, bool scope_null, Datum target,
                    bool target_null, char placement, bool set_parent);
void tree_close_deleted(TreeInfo *ti, TreeNode *gone, char mode);
int32 tree_ordered_position(TreeInfo *ti, TreeNode *parent, TreeNode *node);
int32 tree_end_position(TreeInfo *ti, Datum scope, bool scope_null);

/* triggers.cpp: from tree_init */
void tree_triggers_init(void);

/* The btree comparison of two ids / order values / scopes (not NULL). */
int tree_cmp_id(TreeInfo *ti, Datum a, Datum b);
int tree_cmp_scope(TreeInfo *ti, Datum a, Datum b);
int tree_cmp_order(TreeInfo *ti, Datum a, bool a_null, Datum b, bool b_null);

/*
 * Rows held in memory (renumber.cpp, prenumber.cpp, triggers.cpp), ordered
 * through arrays of their indexes: R is any row type with Datum id (and, for
 * tree_rows_by_order_id, Datum ord and bool ord_null).  The comparators are
 * for qsort_arg with a TreeRows<R> argument.
 */
template <typename R> struct TreeRows
{
    TreeInfo *ti;
    R *rows;
};

template <typename R> int tree_rows_by_id(const void *a, const void *b, void *arg)
{
    auto *c = static_cast<TreeRows<R> *>(arg);
    return tree_cmp_id(c->ti, c->rows[*(const int *) a].id, c->rows[*(const int *) b].id);
}

/* By (order, id), as new siblings are placed; by id without an order column. */
template <typename R> int tree_rows_by_order_id(const void *a, const void *b, void *arg)
{
    auto *c = static_cast<TreeRows<R> *>(arg);
    R *x = &c->rows[*(const int *) a], *y = &c->rows[*(const int *) b];
    if (c->ti->order_att)
    {
        int r = tree_cmp_order(c->ti, x->ord, x->ord_null, y->ord, y->ord_null);
        if (r)
            return r;
    }
    return tree_cmp_id(c->ti, x->id, y->id);
}

/* The row with this id among n indexes sorted by tree_rows_by_id, or -1. */
template <typename R> int tree_rows_find(TreeInfo *ti, R *rows, const int *idx, int n, Datum id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi)
    {
        int mid = (lo + hi) / 2;
        int r = tree_cmp_id(ti, rows[idx[mid]].id, id);
        if (r == 0)
            return idx[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}
