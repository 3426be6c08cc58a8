/*
 * ops.cpp: operations on one node, each a bounded set-based statement.
 *
 * The caller holds the tree lock and an SPI connection.  Numbers are read
 * after the lock, with the latest snapshot (exec.cpp).
 */
#include "tree/tree.h"
#include "pg/spi.h"
#include "errors.h"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
}

/*
 * TR003 for a node (role "node", "parent") that has no numbers.
 */
void tree_require_numbers(TreeInfo *ti, Datum id, const TreeNode *node, const char *role)
{
    if (!node->lft_null)
        return;
    const char *text = tree_id_text(ti, id);
    throw pg::Error(CHRONICLE_TREE_CORRUPT,
                    pg::format("%s %s in tree table %s has no numbers", role, text, ti->qtable), "",
                    "Run chronicle.tree_rebuild().");
}

static Datum copy_datum(Datum d, Oid type)
{
    int16 len;
    bool byval;
    get_typlenbyval(type, &len, &byval);
    return datumCopy(d, byval, len);
}

static bool fetch_node(TreeInfo *ti, Datum id, Datum scope, bool scope_null, TreeNode *out, bool latest)
{
    /* scoped_ids: within the scope ($2); a NULL scope finds nothing there. */
    Datum args[2] = {id, scope};
    char nulls[2] = {' ', scope_null ? 'n' : ' '};
    if (latest)
        tree_run(tree_plan(ti, P_NODE), args, nulls, false);
    else if (pg::spi::execute_plan(tree_plan(ti, P_NODE), args, nulls, true, 1) != SPI_OK_SELECT)
        elog(ERROR, "chronicle: tree query failed");
    if (SPI_processed == 0)
        return false;
    HeapTuple tup = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    out->id = copy_datum(id, ti->id_type);
    /*
     * A row missing any of its three numbers has no numbers: a NULL rgt or
     * depth read as 0 would let a move or delete act on a made-up range
     * instead of reporting the broken numbering (TR003).
     */
    bool rgt_null, depth_null;
    out->lft = tree_get_int(tup, desc, 1, &out->lft_null);
    out->rgt = tree_get_int(tup, desc, 2, &rgt_null);
    out->depth = tree_get_int(tup, desc, 3, &depth_null);
    out->lft_null = out->lft_null || rgt_null || depth_null;
    out->parent = SPI_getbinval(tup, desc, 4, &out->parent_null);
    if (!out->parent_null)
        out->parent = copy_datum(out->parent, ti->id_type);
    out->scope = SPI_getbinval(tup, desc, 5, &out->scope_null);
    if (ti->scope_att && !out->scope_null)
        out->scope = copy_datum(out->scope, ti->scope_type);
    out->ord = SPI_getbinval(tup, desc, 6, &out->ord_null);
    if (ti->order_att && !out->ord_null)
        out->ord = copy_datum(out->ord, ti->order_type);
    return true;
}

bool tree_fetch_node(TreeInfo *ti, Datum id, Datum scope, bool scope_null, TreeNode *out)
{
    return fetch_node(ti, id, scope, scope_null, out, true);
}

/* The same, in the calling statement's snapshot (read functions). */
bool tree_fetch_node_snapshot(TreeInfo *ti, Datum id, Datum scope, bool scope_null, TreeNode *out)
{
    return fetch_node(ti, id, scope, scope_null, out, false);
}

bool tree_locate(TreeInfo *ti, Datum id, bool given, Datum scope, bool latest, TreeNode *out)
{
    if (ti->scoped_ids && !given)
    {
        Datum args[1] = {id};
        if (latest)
            tree_run(tree_plan(ti, P_NODE_SCOPES), args, NULL, false);
        else if (pg::spi::execute_plan(tree_plan(ti, P_NODE_SCOPES), args, NULL, true, 2) != SPI_OK_SELECT)
            elog(ERROR, "chronicle: tree query failed");
        if (SPI_processed == 0)
            return false;
        if (SPI_processed > 1)
        {
            const char *node_text = tree_id_text(ti, id);
            throw pg::Error(ERRCODE_CARDINALITY_VIOLATION,
                            pg::format("node %s is in more than one scope of tree table %s", node_text,
                                       ti->qtable),
                            "Its ids are unique within their scope only.",
                            "Pass the scope: in_scope => ... (tree_insert: the scope in the row).");
        }
        bool isnull;
        Datum found = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        found = copy_datum(found, ti->scope_type);
        return fetch_node(ti, id, found, isnull, out, latest);
    }
    if (!fetch_node(ti, id, scope, !given, out, latest))
        return false;
    if (given && !ti->scoped_ids && ti->scope_att)
    {
        if (out->scope_null)
            return false;
        return tree_cmp_scope(ti, out->scope, scope) == 0;
    }
    return true;
}

void tree_node_not_found(TreeInfo *ti, Datum id, bool given, Datum scope, const char *role)
{
    const char *id_text = tree_id_text(ti, id);
    const char *scope_text = given && ti->scope_att ? tree_scope_text(ti, scope, false) : NULL;
    if (scope_text)
        throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                        pg::format("%s %s does not exist in scope %s of tree table %s", role, id_text,
                                   scope_text, ti->qtable));
    throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                    pg::format("%s %s does not exist in tree table %s", role, id_text, ti->qtable));
}

static bool same_scope(TreeInfo *ti, TreeNode *a, TreeNode *b)
{
    if (!ti->scope_att)
        return true;
    if (ti->per_root)
    {
        if (a->scope_null || b->scope_null)
            return a->scope_null && b->scope_null;
        return tree_cmp_id(ti, a->scope, b->scope) == 0;
    }
    if (a->scope_null || b->scope_null)
        return a->scope_null && b->scope_null;
    return tree_cmp_scope(ti, a->scope, b->scope) == 0;
}

/* One past the last number of the tree: where a last root goes. */
int32 tree_end_position(TreeInfo *ti, Datum scope, bool scope_null)
{
    Datum args[1] = {scope};
    char nulls[1] = {scope_null ? 'n' : ' '};
    tree_run(tree_plan(ti, P_MAX_RGT), args, nulls, false);
    bool isnull;
    int32 max = tree_get_int(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    return isnull ? 1 : max + 1;
}

/*
 * Where node goes among the children of parent (NULL: among the roots): with
 * an order column, before the first sibling (in lft order) whose (order, id)
 * sorts after the node's; else, and when there is none, last.
 */
int32 tree_ordered_position(TreeInfo *ti, TreeNode *parent, TreeNode *node)
{
    int32 end = parent ? parent->rgt : tree_end_position(ti, node->scope, node->scope_null);
    if (!ti->order_att)
        return end;
    Datum args[4] = {Int32GetDatum(parent ? parent->depth + 1 : 0),
                     Int32GetDatum(parent ? parent->lft : 0),
                     Int32GetDatum(parent ? parent->rgt : end), parent ? parent->scope : node->scope};
    bool key_null = parent ? parent->scope_null : node->scope_null;
    char nulls[4] = {' ', ' ', ' ', key_null ? 'n' : ' '};
    tree_run(tree_plan(ti, P_SIBLINGS), args, nulls, false);
    TupleDesc desc = SPI_tuptable->tupdesc;
    for (uint64 i = 0; i < SPI_processed; i++)
    {
        HeapTuple tup = SPI_tuptable->vals[i];
        bool n1, n2, n3;
        Datum sid = SPI_getbinval(tup, desc, 1, &n1);
        Datum sord = SPI_getbinval(tup, desc, 2, &n2);
        int32 slft = DatumGetInt32(SPI_getbinval(tup, desc, 3, &n3));
        if (tree_cmp_id(ti, sid, node->id) == 0)
            continue;
        int c = tree_cmp_order(ti, sord, n2, node->ord, node->ord_null);
        if (c > 0 || (c == 0 && tree_cmp_id(ti, sid, node->id) > 0))
            return slft;
    }
    return end;
}

/* Number a row that a single-row INSERT just added (lft still NULL). */
void tree_place_new_leaf(TreeInfo *ti, Datum id, Datum scope, bool scope_null)
{
    TreeNode node, parent;
    if (!tree_fetch_node(ti, id, scope, scope_null, &node) || !node.lft_null)
        return;
    TreeNode *pp = NULL;
    if (ti->per_root)
    {
        /* A new root starts its own tree; a child joins its parent's. */
        node.scope = id;
        node.scope_null = false;
    }
    if (!node.parent_null)
    {
        if (tree_cmp_id(ti, node.parent, id) == 0)
            throw pg::Error(CHRONICLE_INVALID_MOVE,
                            pg::format("node %s cannot be its own parent in tree table %s",
                                       tree_id_text(ti, id), ti->qtable));
        bool found = tree_fetch_node(ti, node.parent, node.scope, node.scope_null, &parent);
        if (found && ti->per_root)
        {
            node.scope = parent.scope;
            node.scope_null = parent.scope_null;
        }
        if (!found || !same_scope(ti, &node, &parent))
        {
            const char *parent_text = tree_id_text(ti, node.parent), *node_text = tree_id_text(ti, id);
            throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                            pg::format("parent %s of node %s does not exist in tree table %s",
                                       parent_text, node_text, ti->qtable),
                            ti->scope_att ? "The parent must be in the same scope." : "");
        }
        tree_require_numbers(ti, node.parent, &parent, "parent");
        pp = &parent;
    }
    int32 p = tree_ordered_position(ti, pp, &node);
    Datum shift[3] = {Int32GetDatum(p), Int32GetDatum(2), node.scope};
    char nulls[3] = {' ', ' ', node.scope_null ? 'n' : ' '};
    tree_run(tree_plan(ti, P_SHIFT_INSERT), shift, nulls, true);
    Datum set[5] = {id, Int32GetDatum(p), Int32GetDatum(p + 1),
                    Int32GetDatum(pp ? pp->depth + 1 : 0), node.scope};
    char set_nulls[5] = {' ', ' ', ' ', ' ', node.scope_null ? 'n' : ' '};
    tree_run(tree_plan(ti, P_SET_NODE), set, set_nulls, true);
}

/*
 * per_root: move the subtree of node into another root tree (key), at dest,
 * as three bounded statements: open the gap there, move the rows, close the
 * gap they left.  Only the two trees' rows are touched.
 */
static void move_to_tree(TreeInfo *ti, TreeNode *node, Datum key, int32 dest, int32 new_depth,
                         Datum new_parent, bool new_parent_null, bool set_parent)
{
    int32 a = node->lft, b = node->rgt, w = b - a + 1;
    Datum open[3] = {Int32GetDatum(dest), Int32GetDatum(w), key};
    tree_run(tree_plan(ti, P_SHIFT_INSERT), open, NULL, true);
    Datum mv[9] = {Int32GetDatum(a),         Int32GetDatum(b),
                   Int32GetDatum(dest - a),  Int32GetDatum(new_depth - node->depth),
                   key,                      node->id,
                   new_parent,               node->scope,
                   BoolGetDatum(set_parent)};
    char mn[9] = {' ', ' ', ' ', ' ', ' ', ' ', new_parent_null ? 'n' : ' ', ' ', ' '};
    tree_run(tree_plan(ti, P_MOVE_TREE), mv, mn, true);
    Datum close[3] = {Int32GetDatum(b + 1), Int32GetDatum(-w), node->scope};
    tree_run(tree_plan(ti, P_SHIFT_INSERT), close, NULL, true);
}

void tree_move_node(TreeInfo *ti, Datum node_id, Datum scope, bool scope_null, Datum target_id,
                    bool target_null, char placement, bool set_parent)
{
    TreeNode node, target;
    if (!tree_fetch_node(ti, node_id, scope, scope_null, &node))
        throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                        pg::format("node %s does not exist in tree table %s",
                                   tree_id_text(ti, node_id), ti->qtable));
    tree_require_numbers(ti, node_id, &node, "node");
    int32 dest, new_depth;
    Datum new_parent = (Datum) 0;
    bool new_parent_null = true;
    if (ti->per_root && (target_null || ((placement == 'b' || placement == 'a') &&
                                         tree_fetch_node(ti, target_id, node.scope, node.scope_null, &target) &&
                                         !target.lft_null && target.depth == 0 &&
                                         tree_cmp_id(ti, node_id, target_id) != 0)))
    {
        /* per_root: a root (or a root's sibling) is a tree of its own: numbered from 1. */
        if (node.depth == 0)
            return; /* already a root */
        move_to_tree(ti, &node, node.id, 1, 0, (Datum) 0, true, set_parent);
        return;
    }
    if (target_null)
    {
        if (!set_parent && node.depth == 0 && placement != 'o')
            return; /* already a root: a parent set to NULL again moves nothing */
        dest = placement == 'o' ? tree_ordered_position(ti, NULL, &node)
                                : tree_end_position(ti, node.scope, node.scope_null);
        new_depth = 0;
    }
    else
    {
        /* scoped_ids: the target is looked up in the node's scope. */
        if (!tree_fetch_node(ti, target_id, node.scope, node.scope_null, &target) ||
            (!ti->per_root && !same_scope(ti, &node, &target)))
        {
            const char *target_text = tree_id_text(ti, target_id), *node_text = tree_id_text(ti, node_id);
            throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                            set_parent ? pg::format("target %s does not exist in tree table %s",
                                                    target_text, ti->qtable)
                                       : pg::format("parent %s of node %s does not exist in tree "
                                                    "table %s",
                                                    target_text, node_text, ti->qtable),
                            ti->scope_att ? "The target must be in the node's scope." : "");
        }
        tree_require_numbers(ti, target_id, &target, "node");
        if (tree_cmp_id(ti, node_id, target_id) == 0)
        {
            const char *node_text = tree_id_text(ti, node_id);
            throw pg::Error(CHRONICLE_INVALID_MOVE,
                            pg::format("node %s cannot be moved relative to itself", node_text));
        }
        if (target.lft > node.lft && target.rgt < node.rgt && same_scope(ti, &node, &target))
        {
            const char *node_text = tree_id_text(ti, node_id), *target_text = tree_id_text(ti, target_id);
            throw pg::Error(CHRONICLE_INVALID_MOVE,
                            pg::format("node %s cannot be moved into its own subtree (target %s)",
                                       node_text, target_text));
        }
        bool child = placement == 'f' || placement == 'l' || placement == 'o';
        if (!set_parent && child && placement != 'o' && node.depth == target.depth + 1 &&
            node.lft > target.lft && node.rgt < target.rgt && same_scope(ti, &node, &target))
            return; /* already a child of the new parent: nothing moves */
        if (ti->per_root && !same_scope(ti, &node, &target))
        {
            /* Into another root tree (a root's sibling was handled above). */
            int32 to = placement == 'f'   ? target.lft + 1
                       : placement == 'l' ? target.rgt
                       : placement == 'o' ? tree_ordered_position(ti, &target, &node)
                       : placement == 'b' ? target.lft
                                          : target.rgt + 1;
            move_to_tree(ti, &node, target.scope, to, child ? target.depth + 1 : target.depth,
                         child ? target.id : target.parent, child ? false : target.parent_null,
                         set_parent);
            return;
        }
        switch (placement)
        {
        case 'f':
            dest = target.lft + 1;
            break;
        case 'l':
            dest = target.rgt;
            break;
        case 'o':
            dest = tree_ordered_position(ti, &target, &node);
            break;
        case 'b':
            dest = target.lft;
            break;
        default:
            dest = target.rgt + 1;
            break;
        }
        new_depth = child ? target.depth + 1 : target.depth;
        if (child)
        {
            new_parent = target.id;
            new_parent_null = false;
        }
        else
        {
            new_parent = target.parent;
            new_parent_null = target.parent_null;
        }
    }
    int32 a = node.lft, b = node.rgt, w = b - a + 1;
    if (dest > a && dest <= b)
        throw pg::Error(CHRONICLE_INVALID_MOVE,
                        pg::format("node %s cannot be moved into its own subtree",
                                   tree_id_text(ti, node_id)));
    int32 lo, hi, shift_node, shift_other;
    if (dest == a || dest == b + 1)
        lo = 1, hi = 0, shift_node = 0, shift_other = 0; /* same place: only depth/parent */
    else if (dest > b)
        lo = a, hi = dest - 1, shift_node = dest - 1 - b, shift_other = -w;
    else
        lo = dest, hi = b, shift_node = dest - a, shift_other = w;
    if (lo > hi)
    {
        if (!set_parent)
            return;
        lo = hi = a; /* touch the node's row only, to set its parent */
    }
    Datum args[11] = {Int32GetDatum(a),           Int32GetDatum(b),
                      Int32GetDatum(lo),          Int32GetDatum(hi),
                      Int32GetDatum(shift_node),  Int32GetDatum(shift_other),
                      Int32GetDatum(new_depth - node.depth), node_id,
                      BoolGetDatum(set_parent),   new_parent,
                      node.scope};
    char nulls[11] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', new_parent_null ? 'n' : ' ',
                      node.scope_null ? 'n' : ' '};
    tree_run(tree_plan(ti, P_MOVE), args, nulls, true);
}

/* Close the numbers of one deleted node (its row already gone), by mode. */
void tree_close_deleted(TreeInfo *ti, TreeNode *gone, char mode)
{
    int32 a = gone->lft, b = gone->rgt;
    char sn = gone->scope_null ? 'n' : ' ';
    if (mode == DEL_RESTRICT && b - a > 1)
    {
        const char *node_text = tree_id_text(ti, gone->id);
        throw pg::Error(ERRCODE_RESTRICT_VIOLATION,
                        pg::format("node %s of tree table %s has children", node_text, ti->qtable),
                        "The table's on_delete mode is restrict.",
                        "Delete or move the children first, or use chronicle.tree_delete() with "
                        "mode cascade or promote.");
    }
    if (mode == DEL_PROMOTE)
    {
        Datum rp[3] = {gone->id, gone->parent, gone->scope};
        char rn[3] = {' ', gone->parent_null ? 'n' : ' ', sn};
        tree_run(tree_plan(ti, P_REPARENT), rp, rn, true);
        if (ti->per_root && gone->parent_null && b - a > 1)
        {
            /* The children of a deleted root become roots of trees of their own. */
            tree_renumber_roots(ti, &gone->scope, 1, false, false, NULL, 0);
            return;
        }
        Datum args[3] = {Int32GetDatum(a), Int32GetDatum(b), gone->scope};
        char nulls[3] = {' ', ' ', sn};
        tree_run(tree_plan(ti, P_PROMOTE_GAP), args, nulls, true);
        return;
    }
    if (b - a > 1)
    {
        Datum args[3] = {Int32GetDatum(a), Int32GetDatum(b), gone->scope};
        char nulls[3] = {' ', ' ', sn};
        tree_run(tree_plan(ti, P_DELETE_DESC), args, nulls, true);
    }
    Datum args[3] = {Int32GetDatum(b + 1), Int32GetDatum(-(b - a + 1)), gone->scope};
    char nulls[3] = {' ', ' ', sn};
    tree_run(tree_plan(ti, P_SHIFT_INSERT), args, nulls, true);
}
