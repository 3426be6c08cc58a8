/*
 * renumber.cpp: number one whole tree (table + scope) from its parent column.
 *
 * Used where a statement changes many nodes at once (multi-row INSERT, COPY,
 * UPDATE or DELETE, nested statements) and by attach and rebuild: one read of
 * the tree, an O(n log n) computation in memory, and one UPDATE of the rows
 * whose numbers changed.  Siblings keep their current order (by lft); new or
 * moved nodes go last among their siblings (moved ones in their previous lft
 * order, new ones in statement order), or, with an order column, before the
 * first sibling that sorts after them (by order, then id).  A rebuild is the
 * same with nothing moved: it keeps every order the numbering gives, so on a
 * tree chronicle maintained it changes no row.
 *
 * With per_root numbering the rows read are whole root trees; each root is
 * numbered from 1 and its tree's rows get its id in tree_root.
 */
#include "tree/tree.h"
#include "errors.h"

extern "C" {
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "executor/tuptable.h"
#include "tcop/dest.h"
}

namespace {

struct Row
{
    Datum id, parent, ord, root;
    bool parent_null, ord_null, lft_null, root_null, fresh; /* fresh: new or moved */
    bool by_seq; /* new in this INSERT: placed in statement order even if it has numbers */
    int32 lft, rgt, depth;
    int64 seq;
    int parent_ix, first_child, next, nl, nr, nd, nroot;
};

using SortCtx = TreeRows<Row>;

/*
 * Existing siblings by lft; then the moved ones by their previous lft (the
 * order they had, whatever order the statement's plan visited them in); then
 * the new ones in statement order.  Ties (only in a broken numbering) by id.
 */
int by_position(const void *a, const void *b, void *arg)
{
    SortCtx *c = (SortCtx *) arg;
    Row *x = &c->rows[*(const int *) a], *y = &c->rows[*(const int *) b];
    if (x->fresh != y->fresh)
        return x->fresh ? 1 : -1;
    bool nx = x->lft_null || x->by_seq, ny = y->lft_null || y->by_seq;
    if (nx != ny)
        return nx ? 1 : -1;
    int64 kx = nx ? x->seq : x->lft, ky = ny ? y->seq : y->lft;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return tree_cmp_id(c->ti, x->id, y->id);
}

/* Order one sibling list in place (ids are row indexes). */
void order_siblings(TreeInfo *ti, Row *rows, int *list, int k)
{
    SortCtx ctx = {ti, rows};
    if (k < 2)
        return;
    qsort_arg(list, k, sizeof(int), by_position, &ctx);
    if (!ti->order_att)
        return;
    /* Merge the new siblings, sorted by (order, id), into the existing ones:
     * each goes before the first existing sibling that sorts after it. */
    int e = 0;
    while (e < k && !rows[list[e]].fresh)
        e++;
    if (e == k || e == 0)
    {
        if (e == 0)
            qsort_arg(list, k, sizeof(int), tree_rows_by_order_id<Row>, &ctx);
        return;
    }
    int nnew = k - e;
    int *fresh = (int *) palloc(sizeof(int) * nnew);
    int *old = (int *) palloc(sizeof(int) * e);
    memcpy(old, list, sizeof(int) * e);
    memcpy(fresh, list + e, sizeof(int) * nnew);
    qsort_arg(fresh, nnew, sizeof(int), tree_rows_by_order_id<Row>, &ctx);
    int o = 0, out = 0;
    for (int f = 0; f < nnew; f++)
    {
        while (o < e && tree_rows_by_order_id<Row>(&old[o], &fresh[f], &ctx) <= 0)
            list[out++] = old[o++];
        list[out++] = fresh[f];
    }
    while (o < e)
        list[out++] = old[o++];
    pfree(fresh);
    pfree(old);
}

/*
 * Collects the rows of P_SCOPE_ROWS (id, parent, lft, rgt, depth [, ord]) into
 * Row structs as the executor produces them: no copy of every row as a tuple
 * in SPI_tuptable first.  Values are copied into cxt, which outlives the query.
 */
struct RowReader
{
    DestReceiver pub; /* first: the executor sees a DestReceiver */
    MemoryContext cxt;
    Row *rows;
    int n, cap;
    bool ordered, per_root, idbyval, ordbyval;
    int16 idlen, ordlen;
};

bool read_row(TupleTableSlot *slot, DestReceiver *self)
{
    RowReader *rd = (RowReader *) self;
    MemoryContext old = MemoryContextSwitchTo(rd->cxt);
    if (rd->n == rd->cap)
    {
        int cap = rd->cap ? rd->cap * 2 : 1024;
        rd->rows = (Row *) (rd->rows ? repalloc_huge(rd->rows, sizeof(Row) * cap)
                                     : MemoryContextAllocHuge(rd->cxt, sizeof(Row) * cap));
        rd->cap = cap;
    }
    slot_getallattrs(slot);
    Row *r = &rd->rows[rd->n++];
    memset(r, 0, sizeof(Row));
    Datum *v = slot->tts_values;
    bool *isnull = slot->tts_isnull;
    r->id = datumCopy(v[0], rd->idbyval, rd->idlen);
    r->parent_null = isnull[1];
    if (!r->parent_null)
        r->parent = datumCopy(v[1], rd->idbyval, rd->idlen);
    r->lft_null = isnull[2];
    r->lft = isnull[2] ? 0 : DatumGetInt32(v[2]);
    r->rgt = isnull[3] ? 0 : DatumGetInt32(v[3]);
    r->depth = isnull[4] ? 0 : DatumGetInt32(v[4]);
    r->ord_null = true;
    if (rd->ordered)
    {
        r->ord_null = isnull[5];
        if (!r->ord_null)
            r->ord = datumCopy(v[5], rd->ordbyval, rd->ordlen);
    }
    r->root_null = true;
    if (rd->per_root)
    {
        r->root_null = isnull[6];
        if (!r->root_null)
            r->root = datumCopy(v[6], rd->idbyval, rd->idlen);
    }
    r->fresh = r->lft_null;
    r->seq = INT64_MAX;
    r->first_child = r->next = -1;
    MemoryContextSwitchTo(old);
    if ((rd->n & 4095) == 0)
        CHECK_FOR_INTERRUPTS();
    return true;
}

void read_startup(DestReceiver *self, int operation, TupleDesc desc)
{
    if (desc->natts < 7)
        elog(ERROR, "chronicle: unexpected shape of the tree read");
}

void read_nothing(DestReceiver *self) {}

} // namespace

namespace {
/* scope: the tree's scope, which the write-back qualifies its ids by (scoped_ids). */
uint64 renumber_rows(TreeInfo *ti, Row *rows, int n, Datum *moved, int nmoved, Datum scope,
                     bool inserted);
}

/* Read the rows of a tree plan into Row structs. */
static Row *read_rows(TreeInfo *ti, TreePlan which, Datum *args, const char *nulls, int *count)
{
    RowReader reader;
    memset(&reader, 0, sizeof(reader));
    reader.pub.receiveSlot = read_row;
    reader.pub.rStartup = read_startup;
    reader.pub.rShutdown = read_nothing;
    reader.pub.rDestroy = read_nothing;
    reader.pub.mydest = DestTuplestore; /* not DestNone: SPI would report no SELECT */
    reader.cxt = CurrentMemoryContext;
    reader.ordered = ti->order_att != 0;
    reader.per_root = ti->per_root;
    get_typlenbyval(ti->id_type, &reader.idlen, &reader.idbyval);
    reader.ordbyval = true;
    if (ti->order_att)
        get_typlenbyval(ti->order_type, &reader.ordlen, &reader.ordbyval);
    tree_read(tree_plan(ti, which), args, nulls, &reader.pub);
    *count = reader.n;
    return reader.rows;
}

uint64 tree_renumber(TreeInfo *ti, Datum scope, bool scope_null, bool rebuild, Datum *moved,
                     int nmoved, bool inserted)
{
    Datum args[1] = {scope};
    char nulls[1] = {scope_null ? 'n' : ' '};
    int n;
    Row *rows = read_rows(ti, P_SCOPE_ROWS, args, nulls, &n);
    return renumber_rows(ti, rows, n, moved, nmoved, scope, inserted);
}

uint64 tree_renumber_roots(TreeInfo *ti, Datum *keys, int nkeys, bool all, bool rebuild,
                           Datum *moved, int nmoved, bool inserted)
{
    int n;
    Row *rows;
    if (all)
        rows = read_rows(ti, P_ALL_ROWS, NULL, NULL, &n);
    else
    {
        int16 len;
        bool byval;
        char align;
        get_typlenbyvalalign(ti->id_type, &len, &byval, &align);
        Datum args[2] = {
            PointerGetDatum(construct_array(keys, nkeys, ti->id_type, len, byval, align)),
            PointerGetDatum(construct_array(moved, nmoved, ti->id_type, len, byval, align))};
        rows = read_rows(ti, P_ROOT_ROWS, args, NULL, &n);
    }
    return renumber_rows(ti, rows, n, moved, nmoved, (Datum) 0, inserted);
}

namespace {

/*
 * scope: the tree's scope, which the write-back qualifies its ids by
 * (scoped_ids).  inserted: the rows of moved[] are an INSERT's new rows.  They
 * are placed in statement order like rows without numbers, also when the
 * INSERT stored them with the numbers predicted for them (prenumber.cpp); the
 * rows whose prediction holds are then not written again.
 */
uint64 renumber_rows(TreeInfo *ti, Row *rows, int n, Datum *moved, int nmoved, Datum scope,
                     bool inserted)
{
    if (n == 0)
        return 0;
    int16 idlen;
    bool idbyval;
    get_typlenbyval(ti->id_type, &idlen, &idbyval);

    SortCtx ctx = {ti, rows};
    int *idx = (int *) palloc(sizeof(int) * n);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    qsort_arg(idx, n, sizeof(int), tree_rows_by_id<Row>, &ctx);
    for (int i = 1; i < n; i++)
        if (tree_cmp_id(ti, rows[idx[i - 1]].id, rows[idx[i]].id) == 0)
        {
            const char *id = tree_id_text(ti, rows[idx[i]].id);
            throw pg::Error(CHRONICLE_TREE_CORRUPT,
                            pg::format("id %s occurs twice in tree table %s", id, ti->qtable), "",
                            "The id column must be unique.");
        }

    for (int m = 0; m < nmoved; m++)
    {
        int at = tree_rows_find(ti, rows, idx, n, moved[m]);
        if (at >= 0)
        {
            rows[at].fresh = true;
            rows[at].seq = m;
            rows[at].by_seq = inserted;
        }
    }
    /* New rows not named by the caller: after the named ones, by id. */
    {
        int64 next = nmoved;
        for (int i = 0; i < n; i++)
            if (rows[idx[i]].fresh && rows[idx[i]].seq == INT64_MAX)
                rows[idx[i]].seq = next++;
    }

    /* Children lists (CSR): parent index of every row, then bucket them. */
    int *count = (int *) palloc0(sizeof(int) * (n + 1)); /* slot n: the roots */
    for (int i = 0; i < n; i++)
    {
        Row *r = &rows[i];
        if (r->parent_null)
            r->parent_ix = n;
        else
        {
            r->parent_ix = tree_rows_find(ti, rows, idx, n, r->parent);
            if (r->parent_ix < 0)
            {
                const char *parent = tree_id_text(ti, r->parent);
                const char *node = tree_id_text(ti, r->id);
                throw pg::Error(CHRONICLE_NODE_NOT_FOUND,
                                pg::format("parent %s of node %s does not exist in tree table %s",
                                           parent, node, ti->qtable),
                                ti->scope_att ? "The parent must be in the same scope." : "");
            }
        }
        count[r->parent_ix]++;
        if ((i & 4095) == 0)
            CHECK_FOR_INTERRUPTS();
    }
    int *start = (int *) palloc(sizeof(int) * (n + 2));
    start[0] = 0;
    for (int i = 0; i <= n; i++)
        start[i + 1] = start[i] + count[i];
    int *fill = (int *) palloc(sizeof(int) * (n + 1));
    memcpy(fill, start, sizeof(int) * (n + 1));
    int *kids = (int *) palloc(sizeof(int) * n);
    for (int i = 0; i < n; i++)
        kids[fill[rows[i].parent_ix]++] = i;
    for (int p = 0; p <= n; p++)
        if (count[p] > 1)
            order_siblings(ti, rows, kids + start[p], count[p]);

    /* Depth-first numbering without recursion: stack of (parent, next child). */
    int *stack_node = (int *) palloc(sizeof(int) * (n + 1));
    int *stack_pos = (int *) palloc(sizeof(int) * (n + 1));
    int top = 0, counter = 1, visited = 0;
    stack_node[0] = n;
    stack_pos[0] = start[n];
    while (top >= 0)
    {
        int p = stack_node[top];
        if (stack_pos[top] < start[p + 1])
        {
            int c = kids[stack_pos[top]++];
            if (top == 0 && ti->per_root)
                counter = 1; /* each root tree from 1 */
            rows[c].nroot = top == 0 ? c : rows[p].nroot;
            rows[c].nl = counter++;
            rows[c].nd = top;
            visited++;
            top++;
            stack_node[top] = c;
            stack_pos[top] = start[c];
        }
        else
        {
            if (p != n)
                rows[p].nr = counter++;
            top--;
        }
        if ((counter & 8191) == 0)
            CHECK_FOR_INTERRUPTS();
    }
    if (visited < n)
    {
        /*
         * Rows no root reaches hang from a cycle of the parent column.  Walk
         * up from one of them until a row repeats: that row is on the cycle;
         * name the cycle's smallest id (not a bystander hanging below it).
         */
        int *seen = (int *) palloc0(sizeof(int) * n);
        for (int i = 0; i < n; i++)
        {
            if (rows[i].nl != 0)
                continue;
            int at = i;
            while (at != n && seen[at] == 0)
            {
                seen[at] = 1;
                at = rows[at].parent_ix;
            }
            if (at == n)
                continue;
            int best = at;
            for (int c = rows[at].parent_ix; c != at; c = rows[c].parent_ix)
                if (tree_cmp_id(ti, rows[c].id, rows[best].id) < 0)
                    best = c;
            const char *node = tree_id_text(ti, rows[best].id);
            const char *parent = tree_id_text(ti, rows[best].parent);
            throw pg::Error(CHRONICLE_INVALID_MOVE,
                            pg::format("node %s would be its own ancestor in tree table %s",
                                       node, ti->qtable),
                            pg::format("The parent column contains a cycle through node %s "
                                       "(its parent is %s).",
                                       node, parent));
        }
    }

    /* Write back only what changed. */
    int changed = 0;
    Datum *ids = (Datum *) palloc(sizeof(Datum) * n);
    Datum *l = (Datum *) palloc(sizeof(Datum) * n), *rr = (Datum *) palloc(sizeof(Datum) * n),
          *d = (Datum *) palloc(sizeof(Datum) * n);
    Datum *k = ti->per_root ? (Datum *) palloc(sizeof(Datum) * n) : NULL;
    for (int i = 0; i < n; i++)
    {
        Row *r = &rows[i];
        bool same_root = !ti->per_root ||
                         (!r->root_null && tree_cmp_id(ti, r->root, rows[r->nroot].id) == 0);
        if (!r->lft_null && r->lft == r->nl && r->rgt == r->nr && r->depth == r->nd && same_root)
            continue;
        if (k)
            k[changed] = rows[r->nroot].id;
        ids[changed] = r->id;
        l[changed] = Int32GetDatum(r->nl);
        rr[changed] = Int32GetDatum(r->nr);
        d[changed] = Int32GetDatum(r->nd);
        changed++;
    }
    if (changed > 0)
    {
        char align;
        get_typlenbyvalalign(ti->id_type, &idlen, &idbyval, &align);
        Datum wb[5] = {
            PointerGetDatum(construct_array(ids, changed, ti->id_type, idlen, idbyval, align)),
            PointerGetDatum(construct_array(l, changed, INT4OID, 4, true, TYPALIGN_INT)),
            PointerGetDatum(construct_array(rr, changed, INT4OID, 4, true, TYPALIGN_INT)),
            PointerGetDatum(construct_array(d, changed, INT4OID, 4, true, TYPALIGN_INT)),
            k ? PointerGetDatum(construct_array(k, changed, ti->id_type, idlen, idbyval, align))
              : scope};
        tree_run(tree_plan(ti, P_WRITE_BACK), wb, NULL, true);
    }
    return (uint64) changed;
}

} // namespace
