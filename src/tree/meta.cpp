/*
 * meta.cpp: what chronicle knows about an attached table.
 *
 * The attachment (column names, on_delete) lives in chronicle._tree_tables.
 * Each backend caches it per table, with the attribute numbers, types,
 * comparison functions and every prepared plan, in CacheMemoryContext.  A
 * relcache invalidation of the table (ALTER TABLE, attach, detach: attach and
 * detach send one explicitly) marks the entry stale; the next use rebuilds it.
 * Plans are prepared under search_path = pg_catalog, pg_temp, which the plan
 * cache keeps for re-planning, so no user object can shadow an operator.
 */
#include "tree/tree.h"
#include "pg/callbacks.h"
#include "pg/citus.h"
#include "pg/spi.h"
#include "errors.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "access/relation.h"
#include "commands/trigger.h"
#include "utils/rel.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

static HTAB *tree_cache = NULL;
/* Bumped by every invalidation of an entry: a load it overtook reads again. */
static uint64 invalidations = 0;

static void tree_relcache_callback(Datum arg, Oid relid)
{
    if (tree_cache == NULL)
        return;
    if (!OidIsValid(relid))
    {
        HASH_SEQ_STATUS status;
        TreeInfo *ti;
        hash_seq_init(&status, tree_cache);
        while ((ti = (TreeInfo *) hash_seq_search(&status)) != NULL)
            ti->valid = false;
        invalidations++;
        return;
    }
    TreeInfo *ti = (TreeInfo *) hash_search(tree_cache, &relid, HASH_FIND, NULL);
    if (ti)
    {
        ti->valid = false;
        invalidations++;
    }
}

void tree_meta_init(void)
{
    pg::callbacks::on_relcache(tree_relcache_callback, (Datum) 0);
}

static char *cache_strdup(const char *s)
{
    return s ? MemoryContextStrdup(CacheMemoryContext, s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Does the reloaded attachment match the cached one, so its plans still apply? */
static bool same_shape(const TreeInfo *a, const TreeInfo *b)
{
    return a->owner == b->owner && a->id_att == b->id_att && a->parent_att == b->parent_att &&
           a->scope_att == b->scope_att && a->order_att == b->order_att &&
           a->lft_att == b->lft_att && a->rgt_att == b->rgt_att && a->depth_att == b->depth_att &&
           a->id_type == b->id_type && a->scope_type == b->scope_type &&
           a->order_type == b->order_type && a->on_delete == b->on_delete &&
           a->per_root == b->per_root && a->scoped_ids == b->scoped_ids && a->citus == b->citus &&
           same_str(a->qtable, b->qtable) && same_str(a->qid, b->qid) &&
           same_str(a->qparent, b->qparent) && same_str(a->qscope, b->qscope) &&
           same_str(a->qorder, b->qorder) && same_str(a->eq_id, b->eq_id) &&
           same_str(a->eq_scope, b->eq_scope);
}

/*
 * The equality operator of a type's default btree opclass, schema-qualified
 * ("OPERATOR(public.=)" for citext): tree SQL compares ids and scopes with it,
 * so that neither the caller's search_path nor the pinned one (where a type
 * without operators in pg_catalog would fall back to an implicit cast, or fail)
 * chooses it.
 */
static char *equality_operator(Oid type, const char *what)
{
    TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR);
    if (!OidIsValid(tc->eq_opr))
        throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("the %s column's type %s has no equality operator",
                                                         what, format_type_be(type)));
    HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tc->eq_opr));
    if (!HeapTupleIsValid(tup))
        throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("the %s column's equality operator is gone", what));
    Form_pg_operator op = (Form_pg_operator) GETSTRUCT(tup);
    char *nsp = get_namespace_name(op->oprnamespace);
    char *text = psprintf("OPERATOR(%s.%s)", quote_identifier(nsp), NameStr(op->oprname));
    ReleaseSysCache(tup);
    return cache_strdup(text);
}

/* The attribute number of a column that must exist; its type and collation. */
static AttrNumber column(Oid relid, const char *name, Oid *type, Oid *coll)
{
    AttrNumber att = get_attnum(relid, name);
    if (att == InvalidAttrNumber)
    {
        const char *table = get_rel_name(relid);
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("column \"%s\" of tree table %s does not exist", name, table),
                        "", "Re-attach the table with chronicle.tree_attach().");
    }
    int32 typmod;
    Oid c;
    get_atttypetypmodcoll(relid, att, type, &typmod, &c);
    if (coll)
        *coll = c;
    return att;
}

static void cmp_proc(Oid type, FmgrInfo *out, const char *what)
{
    TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO);
    if (!OidIsValid(tc->cmp_proc_finfo.fn_oid))
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("the %s column's type %s has no btree ordering", what,
                                   format_type_be(type)));
    fmgr_info_copy(out, &tc->cmp_proc_finfo, CacheMemoryContext);
}

/*
 * The attachment as the lock trigger's arguments carry it ("id=...",
 * "parent=...", ...: tree_trigger_args).  Citus copies a distributed table's
 * triggers, arguments and all, to its shell on every worker and to every
 * shard, so a shard's triggers find the attachment there without a catalog
 * on each node (docs/design/citus.md).  Returns false when relid has no lock
 * trigger; *bare when it has one without arguments (attached by 0.1.0).
 */
static bool attachment_from_trigger(Oid relid, char **names, char **on_delete, char **numbering,
                                    char **ids, bool *bare)
{
    *bare = false;
    Oid nsp = get_namespace_oid("chronicle", true);
    Relation rel = try_relation_open(relid, AccessShareLock);
    if (rel == NULL)
        return false;
    bool found = false;
    TriggerDesc *td = rel->trigdesc;
    for (int i = 0; td && i < td->numtriggers && !found; i++)
    {
        Trigger *t = &td->triggers[i];
        /* On a shard Citus names it chronicle_tree_1_lock_<shardid>. */
        if (strncmp(t->tgname, "chronicle_tree_1_lock", strlen("chronicle_tree_1_lock")) != 0 ||
            get_func_namespace(t->tgfoid) != nsp)
            continue;
        char *fn = get_func_name(t->tgfoid);
        if (fn == NULL || strcmp(fn, "_tree_lock_trigger") != 0)
            continue;
        found = true;
        if (t->tgnargs == 0)
            *bare = true;
        /* In the caller's memory: load() copies what it keeps. */
        for (int a = 0; a < t->tgnargs; a++)
        {
            const char *arg = t->tgargs[a], *eq = strchr(arg, '=');
            if (eq == NULL)
                continue;
            size_t klen = eq - arg;
            const char *v = eq + 1;
            auto key = [&](const char *k) { return strlen(k) == klen && strncmp(arg, k, klen) == 0; };
            if (key("id"))
                names[0] = pstrdup(v);
            else if (key("parent"))
                names[1] = pstrdup(v);
            else if (key("scope"))
                names[2] = pstrdup(v);
            else if (key("order"))
                names[3] = pstrdup(v);
            else if (key("on_delete"))
                *on_delete = pstrdup(v);
            else if (key("numbering"))
                *numbering = pstrdup(v);
            else if (key("ids"))
                *ids = pstrdup(v);
        }
    }
    relation_close(rel, AccessShareLock);
    if (found && !*bare && (names[0] == NULL || names[1] == NULL || *on_delete == NULL))
        *bare = true;
    return found;
}

/*
 * Where the table stands in a Citus cluster (TreeInfo.citus), checked
 * against the attachment: a tree can be distributed by its scope column only.
 * Without Citus nothing is looked up.
 */
static char citus_kind(Oid relid, const char *scope, bool per_root, bool attached_here)
{
    if (!pg::citus::installed())
        return 0;
    char method = 0, repmodel = 0;
    char *column = NULL;
    char kind = 0;
    if (!attached_here && OidIsValid(pg::citus::shard_parent(relid, &method, &column)))
        kind = 's';
    else
    {
        method = pg::citus::table_method(relid, &column, &repmodel);
        kind = method ? 'd' : 0;
    }
    if (kind == 0)
        return 0;
    /* A Citus local table (a tree Citus added to its metadata, for a foreign
     * key to a reference table): one shard, on the coordinator, which keeps
     * the table's own catalog row (Citus renamed the table into it). */
    if (kind == 'd' && method == 'n' && repmodel == 's')
        return 'l';
    if (method != 'h' || per_root || scope == NULL || column == NULL || strcmp(column, scope) != 0)
    {
        const char *name = get_rel_name(relid);
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format(kind == 's' ? "tree table shard %s is not of a table distributed by its scope column"
                                               : "tree table %s is a Citus table not distributed by its scope column",
                                   name),
                        "Each scope's numbering must live on one node: a tree with a scope column may be "
                        "distributed by that column, and no other Citus table can be a tree.",
                        "Detach the tree (chronicle.tree_detach, on the coordinator) and undistribute the "
                        "table; attach it again, then distribute it by its scope column.");
    }
    return kind;
}

/* Read the attachment row as the owner of chronicle._tree_tables, so that any
 * role writing an attached table can keep it numbered. */
static bool load(TreeInfo *ti, Oid relid)
{
    static SPIPlanPtr plan = NULL;
    Oid meta = get_relname_relid("_tree_tables", get_namespace_oid("chronicle", false));
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    HeapTuple ct = SearchSysCache1(RELOID, ObjectIdGetDatum(meta));
    Oid meta_owner = ((Form_pg_class) GETSTRUCT(ct))->relowner;
    ReleaseSysCache(ct);

    SPI_connect();
    SetUserIdAndSecContext(meta_owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    static const Oid argtypes[1] = {REGCLASSOID};
    pg::spi::kept_plan(&plan,
                       "SELECT id_column::text, parent_column::text, scope_column::text, "
                       "order_column::text, on_delete, numbering, ids_unique_in FROM chronicle._tree_tables "
                       "WHERE tbl OPERATOR(pg_catalog.=) $1",
                       1, argtypes);
    Datum args[1] = {ObjectIdGetDatum(relid)};
    /*
     * The latest snapshot, as catalog lookups read the table's triggers: a
     * REPEATABLE READ transaction whose snapshot predates a tree_detach it
     * then waited for (docs/design/locking.md) must not take the table for a
     * tree whose triggers are gone.  It sees an attach made earlier in this
     * transaction too.
     */
    int rc = pg::spi::execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle._tree_tables failed: %s", SPI_result_code_string(rc));
    SetUserIdAndSecContext(save_user, save_sec);
    /* Kept past SPI_finish, in the caller's memory (SPI_palloc), which an
     * error frees too: the entry keeps copies (cache_strdup). */
    auto keep = [](const char *v) -> char * {
        return v ? strcpy((char *) SPI_palloc(strlen(v) + 1), v) : NULL;
    };
    char *names[4] = {NULL, NULL, NULL, NULL};
    char *del = NULL, *numbering = NULL, *ids = NULL;
    bool attached_here = SPI_processed > 0;
    if (attached_here)
    {
        HeapTuple tup = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        for (int i = 0; i < 4; i++)
            names[i] = keep(SPI_getvalue(tup, desc, i + 1));
        del = keep(SPI_getvalue(tup, desc, 5));
        numbering = keep(SPI_getvalue(tup, desc, 6));
        ids = keep(SPI_getvalue(tup, desc, 7));
    }
    SPI_finish();
    if (!attached_here)
    {
        /* No row here: on a Citus worker, a shard (or the shell) of a
         * distributed tree carries its attachment in its lock trigger. */
        bool bare;
        if (!pg::citus::installed() || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) ||
            !attachment_from_trigger(relid, names, &del, &numbering, &ids, &bare))
            return false;
        char method;
        char *column;
        bool shard = OidIsValid(pg::citus::shard_parent(relid, &method, &column));
        if (!shard && pg::citus::table_method(relid, &column) == 0)
        {
            /*
             * A table of this node: only its catalog row attaches it.  (Its
             * lock trigger names an attachment all the same while Citus fills
             * a new shard, which the worker's metadata does not show yet, and
             * when Citus made the table out of a distributed tree:
             * undistribute_table builds a new table, triggers and rows
             * copied, and drops the old one, whose row goes with it.  Then
             * tree_detach removes the triggers and tree_attach numbers it.)
             */
            return false;
        }
        if (bare)
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(CHRONICLE_NOT_A_TREE,
                            pg::format("the attachment of tree table %s did not reach this node", name),
                            "Its lock trigger carries no attachment (the table was attached by chronicle 0.1.0).",
                            "Detach the table on the coordinator, attach it again, then distribute it.");
        }
        if (names[2] && names[2][0] == '\0')
            names[2] = NULL;
        if (names[3] && names[3][0] == '\0')
            names[3] = NULL;
        /* What tree_trigger_args writes, nothing else (a trigger of the
         * same name with other arguments is no attachment). */
        auto one_of = [](const char *v, const char *a, const char *b, const char *c) {
            return v && (strcmp(v, a) == 0 || strcmp(v, b) == 0 || (c && strcmp(v, c) == 0));
        };
        if (!one_of(del, "cascade", "promote", "restrict") || !one_of(numbering, "per_scope", "per_root", NULL) ||
            !one_of(ids, "table", "scope", NULL))
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(CHRONICLE_NOT_A_TREE,
                            pg::format("the lock trigger of tree table %s carries a malformed attachment", name),
                            "Its on_delete, numbering or ids argument is missing or unknown.",
                            "Detach the table on the coordinator, attach it again, then distribute it.");
        }
    }
    ti->on_delete = del[0] == 'c' ? DEL_CASCADE : del[0] == 'p' ? DEL_PROMOTE : DEL_RESTRICT;
    ti->per_root = numbering && strcmp(numbering, "per_root") == 0;
    ti->scoped_ids = ids && strcmp(ids, "scope") == 0;
    ti->attached_here = attached_here;
    for (char *str : {del, numbering, ids})
        if (str)
            pfree(str);

    Oid typ, coll;
    ti->relid = relid;
    ti->owner = InvalidOid;
    HeapTuple rt = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(rt))
        throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("relation %u does not exist", relid));
    ti->owner = ((Form_pg_class) GETSTRUCT(rt))->relowner;
    ReleaseSysCache(rt);
    ti->citus = citus_kind(relid, names[2], ti->per_root, attached_here);
    ti->id_att = column(relid, names[0], &ti->id_type, &ti->id_coll);
    ti->parent_att = column(relid, names[1], &typ, &coll);
    /* Checked by tree_attach, but the id column's type can change since (the
     * parent column's cannot: a trigger names it), and a shard's attachment
     * comes from its trigger's arguments: every id and parent value is read
     * as the id type, a mismatch would read one as the other. */
    if (typ != ti->id_type)
    {
        const char *table = get_rel_name(relid), *ptype = format_type_be(typ),
                   *itype = format_type_be(ti->id_type);
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("parent column \"%s\" of tree table %s is of type %s, its id column \"%s\" of type %s",
                                   names[1], table, ptype, names[0], itype),
                        "", "Detach the table (chronicle.tree_detach()) and attach it again.");
    }
    if (ti->per_root)
    {
        /* The tree key is the root's id, kept in tree_root (tree.h). */
        if (names[2])
            throw pg::Error(CHRONICLE_NOT_A_TREE, "per_root numbering cannot be combined with a scope column");
        ti->scope_att = column(relid, "tree_root", &ti->scope_type, &ti->scope_coll);
        if (ti->scope_type != ti->id_type)
            throw pg::Error(CHRONICLE_NOT_A_TREE, "column \"tree_root\" must have the id column's type",
                            "", "Re-attach the table with chronicle.tree_attach().");
    }
    else
        ti->scope_att = names[2] ? column(relid, names[2], &ti->scope_type, &ti->scope_coll) : 0;
    ti->order_att = names[3] ? column(relid, names[3], &ti->order_type, &ti->order_coll) : 0;
    ti->lft_att = column(relid, "lft", &typ, NULL);
    bool numbers_int = typ == INT4OID;
    ti->rgt_att = column(relid, "rgt", &typ, NULL);
    numbers_int = numbers_int && typ == INT4OID;
    ti->depth_att = column(relid, "depth", &typ, NULL);
    if (!numbers_int || typ != INT4OID)
    {
        const char *table = get_rel_name(relid);
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("columns lft, rgt and depth of tree table %s must be integers", table), "",
                        "Detach the table (chronicle.tree_detach()) and attach it again.");
    }
    cmp_proc(ti->id_type, &ti->id_cmp, "id");
    ti->eq_id = equality_operator(ti->id_type, "id");
    ti->eq_scope = ti->scope_att ? equality_operator(ti->scope_type, "scope") : NULL;
    {
        TypeCacheEntry *tc = lookup_type_cache(ti->id_type, TYPECACHE_LT_OPR);
        memset(&ti->id_sort, 0, sizeof(ti->id_sort));
        ti->id_sort.ssup_cxt = CacheMemoryContext;
        ti->id_sort.ssup_collation = ti->id_coll;
        ti->id_sort.ssup_nulls_first = false;
        PrepareSortSupportFromOrderingOp(tc->lt_opr, &ti->id_sort);
    }
    if (ti->order_att)
        cmp_proc(ti->order_type, &ti->order_cmp, "order");
    if (ti->scope_att)
        cmp_proc(ti->scope_type, &ti->scope_cmp, "scope");
    if (ti->scope_att)
    {
        TypeCacheEntry *tc = lookup_type_cache(ti->scope_type, TYPECACHE_HASH_PROC_FINFO);
        if (!OidIsValid(tc->hash_proc_finfo.fn_oid))
            throw pg::Error(CHRONICLE_NOT_A_TREE,
                            pg::format(ti->per_root ? "the id column's type %s has no hash function"
                                                    : "the scope column's type %s has no hash function",
                                       format_type_be(ti->scope_type)));
        fmgr_info_copy(&ti->scope_hash, &tc->hash_proc_finfo, CacheMemoryContext);
    }
    ti->qtable = cache_strdup(quote_qualified_identifier(
        get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid)));
    ti->qid = cache_strdup(quote_identifier(names[0]));
    ti->qparent = cache_strdup(quote_identifier(names[1]));
    ti->qscope = ti->per_root ? cache_strdup("tree_root")
                 : names[2] ? cache_strdup(quote_identifier(names[2])) : NULL;
    ti->qorder = names[3] ? cache_strdup(quote_identifier(names[3])) : NULL;
    for (int i = 0; i < 4; i++)
        if (names[i])
            pfree(names[i]);
    if (ti->scoped_ids && !ti->scope_att)
        throw pg::Error(CHRONICLE_NOT_A_TREE, "ids unique within their scope need a scope column",
                        "", "Re-attach the table with chronicle.tree_attach().");
    return true;
}

void tree_lock_before_reading(Oid relid, int lockmode)
{
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
        return;
    LockRelationOid(relid, (LOCKMODE) lockmode);
}

TreeInfo *tree_info(Oid relid, bool missing_ok)
{
    if (tree_cache == NULL)
    {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = sizeof(TreeInfo);
        ctl.hcxt = CacheMemoryContext;
        tree_cache = hash_create("chronicle tree tables", 32, &ctl,
                                 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    bool found;
    TreeInfo *ti = (TreeInfo *) hash_search(tree_cache, &relid, HASH_ENTER, &found);
    if (!found)
    {
        memset(((char *) ti) + sizeof(Oid), 0, sizeof(TreeInfo) - sizeof(Oid));
        ti->valid = false;
    }
    if (ti->valid)
        return ti;
    /*
     * Reload into a scratch entry.  An invalidation can arrive while an outer
     * call is still executing one of this entry's plans (an ANALYZE of the
     * table sends one), so plans are never freed here: unchanged, they are
     * kept (the plan cache re-plans them itself); changed (DDL), the old ones
     * are abandoned to CacheMemoryContext.
     */
    TreeInfo fresh;
    bool ok;
    uint64 seen;
    /*
     * The load reads catalogs, which processes invalidations: one that
     * arrives meanwhile (an ALTER TABLE, a detach committed by another
     * session) may find the entry already marked stale and be lost when the
     * entry is stored valid below.  So the load is repeated until none came.
     */
    do
    {
        seen = invalidations;
        memset(&fresh, 0, sizeof(fresh));
        fresh.relid = relid;
        try
        {
            ok = load(&fresh, relid);
        }
        catch (...)
        {
            /* Stale, not removed (below). */
            ti->valid = false;
            throw;
        }
    } while (ok && invalidations != seen);
    if (!ok)
    {
        /*
         * Kept, marked stale, never removed: a caller further up may still
         * hold a pointer to it (a tree function whose statement fired a
         * trigger that detached the table), and a removed entry's memory
         * went to the next table entered, whose attachment that caller then
         * used with its own arguments (isolation spec tree_entry_reused).
         * One entry per table ever looked up, in CacheMemoryContext.
         */
        ti->valid = false;
        if (missing_ok)
            return NULL;
        char *name = get_rel_name(relid);
        throw pg::Error(CHRONICLE_NOT_A_TREE,
                        pg::format("table %s is not attached as a tree",
                                   name ? name : "(dropped)"),
                        "", "Attach it with chronicle.tree_attach().");
    }
    if (found && same_shape(ti, &fresh))
        memcpy(fresh.plans, ti->plans, sizeof(fresh.plans));
    *ti = fresh;
    ti->valid = true;
    return ti;
}

/* " AND t.scope = $n", or nothing for a table without scope. */
static const char *scope_clause(TreeInfo *ti, const char *alias, int n)
{
    if (!ti->qscope)
        return "";
    return psprintf(" AND %s.%s %s $%d", alias, ti->qscope, ti->eq_scope, n);
}

/* " AND t.scope = $n" where ids are unique only within their scope (scoped_ids):
 * what a statement addressing rows by id or parent adds, as its last parameter. */
static const char *id_scope_clause(TreeInfo *ti, const char *alias, int n)
{
    return ti->scoped_ids ? scope_clause(ti, alias, n) : "";
}

/* The columns every whole-tree read returns, in this order (renumber.cpp,
 * query.cpp): id, parent, lft, rgt, depth, order (or NULL), tree_root (or NULL). */
static const char *row_columns(TreeInfo *ti)
{
    return psprintf("t.%s, t.%s, t.lft, t.rgt, t.depth, %s%s, %s", ti->qid, ti->qparent,
                    ti->qorder ? "t." : "NULL::int4", ti->qorder ? ti->qorder : "",
                    ti->per_root ? "t.tree_root" : "NULL::int4");
}

static SPIPlanPtr prepare(TreeInfo *ti, TreePlan which)
{
    const char *T = ti->qtable, *I = ti->qid, *P = ti->qparent, *EQ = ti->eq_id;
    Oid id = ti->id_type, sc = ti->scope_type, i4 = INT4OID;
    Oid idarr = get_array_type(id);
    bool S = ti->qscope != NULL;
    char *sql = NULL;
    Oid types[12];
    int n = 0;
    auto add = [&](Oid t) { types[n++] = t; };

    switch (which)
    {
    case P_NODE:
        sql = psprintf("SELECT t.lft, t.rgt, t.depth, t.%s, %s%s, %s%s FROM %s t WHERE t.%s %s $1",
                       P, S ? "t." : "NULL::int4", S ? ti->qscope : "",
                       ti->qorder ? "t." : "NULL::int4", ti->qorder ? ti->qorder : "", T, I, EQ);
        sql = psprintf("%s%s", sql, id_scope_clause(ti, "t", 2));
        add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_NODE_SCOPES:
        sql = S ? psprintf("SELECT t.%s FROM %s t WHERE t.%s %s $1 LIMIT 2", ti->qscope, T, I, EQ)
                : pstrdup("SELECT NULL::int4 WHERE false");
        add(id);
        break;
    case P_SCOPE_ROWS:
        /* id, parent, lft, rgt, depth, order (or NULL), tree_root (or NULL) */
        sql = psprintf("SELECT %s FROM %s t WHERE true%s", row_columns(ti), T,
                       scope_clause(ti, "t", 1));
        if (S)
            add(sc);
        break;
    case P_ROOT_ROWS:
        sql = psprintf("SELECT %s FROM %s t WHERE t.tree_root %s ANY ($1) UNION ALL "
                       "SELECT %s FROM %s t WHERE t.%s %s ANY ($2) AND t.tree_root IS NULL",
                       row_columns(ti), T, EQ, row_columns(ti), T, I, EQ);
        add(idarr), add(idarr);
        break;
    case P_ALL_ROWS:
        sql = psprintf("SELECT %s FROM %s t", row_columns(ti), T);
        break;
    case P_MOVE_TREE:
        /* The subtree [$1, $2] of tree $8 moves by $3 into tree $5, $4 levels
         * deeper; the node $6 takes parent $7 when $9. */
        sql = psprintf("UPDATE %s t SET lft = t.lft + $3, rgt = t.rgt + $3, depth = t.depth + $4, "
                       "tree_root = $5, %s = CASE WHEN $9 AND t.%s %s $6 THEN $7 ELSE t.%s END "
                       "WHERE t.tree_root %s $8 AND t.lft BETWEEN $1 AND $2",
                       T, P, I, EQ, P, EQ);
        add(i4), add(i4), add(i4), add(i4), add(id), add(id), add(id), add(id), add(BOOLOID);
        break;
    case P_MAX_RGT:
        sql = psprintf("SELECT pg_catalog.max(t.rgt) FROM %s t WHERE true%s", T,
                       scope_clause(ti, "t", 1));
        if (S)
            add(sc);
        break;
    case P_SHIFT_INSERT:
        /* Positions >= $1 move by $2: open a gap (insert) or close one (delete). */
        sql = psprintf("UPDATE %s t SET lft = CASE WHEN t.lft >= $1 THEN t.lft + $2 ELSE t.lft END, "
                       "rgt = t.rgt + $2 WHERE t.rgt >= $1%s",
                       T, scope_clause(ti, "t", 3));
        add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_SET_NODE:
        /* $5: the tree key (per_root: tree_root's new value; scoped_ids: the scope). */
        sql = psprintf("UPDATE %s t SET lft = $2, rgt = $3, depth = $4%s WHERE t.%s %s $1%s", T,
                       ti->per_root ? ", tree_root = $5" : "", I, EQ, id_scope_clause(ti, "t", 5));
        add(id), add(i4), add(i4), add(i4);
        if (ti->per_root)
            add(id);
        else if (ti->scoped_ids)
            add(sc);
        break;
    case P_MOVE:
        /* awesome_nested_set's bounded update: the node's range [$1,$2] moves by $5,
         * the rows between it and the destination ([$3,$4] minus the node) by $6. */
        sql = psprintf(
            "UPDATE %s t SET "
            "lft = CASE WHEN t.lft BETWEEN $1 AND $2 THEN t.lft + $5 "
            "WHEN t.lft BETWEEN $3 AND $4 THEN t.lft + $6 ELSE t.lft END, "
            "rgt = CASE WHEN t.rgt BETWEEN $1 AND $2 THEN t.rgt + $5 "
            "WHEN t.rgt BETWEEN $3 AND $4 THEN t.rgt + $6 ELSE t.rgt END, "
            "depth = CASE WHEN t.lft BETWEEN $1 AND $2 THEN t.depth + $7 ELSE t.depth END, "
            "%s = CASE WHEN $9 AND t.%s %s $8 THEN $10 ELSE t.%s END "
            "WHERE (t.lft BETWEEN $3 AND $4 OR t.rgt BETWEEN $3 AND $4)%s",
            T, P, I, EQ, P, scope_clause(ti, "t", 11));
        add(i4), add(i4), add(i4), add(i4), add(i4), add(i4), add(i4), add(id), add(BOOLOID),
            add(id);
        if (S)
            add(sc);
        break;
    case P_DELETE_DESC:
        sql = psprintf("DELETE FROM %s t WHERE t.lft > $1 AND t.rgt < $2%s", T,
                       scope_clause(ti, "t", 3));
        add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_PROMOTE_GAP:
        sql = psprintf("UPDATE %s t SET "
                       "lft = CASE WHEN t.lft > $2 THEN t.lft - 2 WHEN t.lft > $1 THEN t.lft - 1 "
                       "ELSE t.lft END, "
                       "rgt = CASE WHEN t.rgt > $2 THEN t.rgt - 2 WHEN t.rgt > $1 THEN t.rgt - 1 "
                       "ELSE t.rgt END, "
                       "depth = CASE WHEN t.lft > $1 AND t.rgt < $2 THEN t.depth - 1 "
                       "ELSE t.depth END WHERE t.rgt > $1%s",
                       T, scope_clause(ti, "t", 3));
        add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_REPARENT:
        sql = psprintf("UPDATE %s t SET %s = $2 WHERE t.%s %s $1%s", T, P, P, EQ,
                       id_scope_clause(ti, "t", 3));
        add(id), add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_WRITE_BACK:
        /* The arrays are unnested in the target list (ProjectSet, rows
         * streamed in lockstep) rather than by ROWS FROM, whose function scan
         * first copies every row into a tuplestore. */
        sql = psprintf("UPDATE %s t SET lft = v.l, rgt = v.r, depth = v.d%s "
                       "FROM (SELECT pg_catalog.unnest($1) AS i, pg_catalog.unnest($2) AS l, "
                       "pg_catalog.unnest($3) AS r, pg_catalog.unnest($4) AS d%s) AS v "
                       "WHERE t.%s %s v.i%s",
                       T, ti->per_root ? ", tree_root = v.k" : "",
                       ti->per_root ? ", pg_catalog.unnest($5) AS k" : "", I, EQ,
                       id_scope_clause(ti, "t", 5));
        add(idarr), add(INT4ARRAYOID), add(INT4ARRAYOID), add(INT4ARRAYOID);
        if (ti->per_root)
            add(idarr);
        else if (ti->scoped_ids)
            add(sc);
        break;
    case P_SIBLINGS:
        sql = psprintf("SELECT t.%s%s%s, t.lft FROM %s t WHERE t.depth = $1 AND t.lft > $2 "
                       "AND t.lft < $3%s ORDER BY t.lft",
                       I, ti->qorder ? ", t." : ", NULL::int4", ti->qorder ? ti->qorder : "", T,
                       scope_clause(ti, "t", 4));
        add(i4), add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_SET_SCOPE:
        sql = psprintf("UPDATE %s t SET %s = $3 WHERE t.lft >= $1 AND t.rgt <= $2 AND t.%s %s $4",
                       T, ti->qscope, ti->qscope, ti->eq_scope);
        add(i4), add(i4), add(sc), add(sc);
        break;
    case P_SUBTREE:
        /* The node's range, read in lft order straight off the lft index
         * (executed with bitmap and sequential scans off: see query.cpp). */
        sql = psprintf("SELECT t.* FROM %s t WHERE t.lft BETWEEN $1 AND $2 "
                       "AND ($3 IS NULL OR t.depth <= $3)%s ORDER BY t.lft",
                       T, scope_clause(ti, "t", 4));
        add(i4), add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_ANCESTORS:
        /* Up the parent column through the primary key: O(depth log n), bounded
         * by the node's depth even if the parent column had a cycle. */
        sql = psprintf("WITH RECURSIVE up(r, pid, k, lim) AS ("
                       "SELECT NULL::%s, n.%s, 0, n.depth FROM %s n WHERE n.%s %s $1%s "
                       "UNION ALL "
                       "SELECT p.*::%s, p.%s, up.k + 1, up.lim FROM up JOIN %s p ON p.%s %s up.pid%s "
                       "WHERE up.k < up.lim) "
                       "SELECT (up.r).* FROM up WHERE up.k > 0 ORDER BY up.k DESC",
                       T, P, T, I, EQ, id_scope_clause(ti, "n", 2), T, P, T, I, EQ,
                       id_scope_clause(ti, "p", 2));
        add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_CHILDREN:
        /* Hop from sibling to sibling on the lft index: the first child starts at
         * lft + 1, each next one right after the previous one's rgt.  O(k log n). */
        sql = psprintf("WITH RECURSIVE c(r, nxt, stop%s) AS ("
                       "SELECT t.*::%s, t.rgt, n.rgt%s FROM %s n JOIN %s t ON t.lft = n.lft + 1%s "
                       "WHERE n.%s %s $1%s AND t.lft < n.rgt "
                       "UNION ALL "
                       "SELECT t.*::%s, t.rgt, c.stop%s FROM c JOIN %s t ON t.lft = c.nxt + 1%s "
                       "WHERE t.lft < c.stop) "
                       "SELECT (c.r).* FROM c ORDER BY (c.r).lft",
                       S ? ", sc" : "", T, S ? psprintf(", n.%s", ti->qscope) : "", T, T,
                       S ? psprintf(" AND t.%s %s n.%s", ti->qscope, ti->eq_scope, ti->qscope) : "", I, EQ,
                       id_scope_clause(ti, "n", 2), T, S ? ", c.sc" : "", T,
                       S ? psprintf(" AND t.%s %s c.sc", ti->qscope, ti->eq_scope) : "");
        add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_COUNT_CHILDREN:
        sql = psprintf("SELECT t.%s FROM %s t WHERE t.%s %s ANY ($1)%s LIMIT 1", I, T, P, EQ,
                       id_scope_clause(ti, "t", 2));
        add(idarr);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_ROW_JSON:
        sql = psprintf("SELECT pg_catalog.to_jsonb(t.*) FROM %s t WHERE t.%s %s $1%s", T, I, EQ,
                       id_scope_clause(ti, "t", 2));
        add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_DELETE_CHILDREN:
        sql = psprintf("DELETE FROM %s t WHERE t.%s %s ANY ($1)%s RETURNING t.%s", T, P, EQ,
                       id_scope_clause(ti, "t", 2), I);
        add(idarr);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_DELETE_RANGE:
        sql = psprintf("DELETE FROM %s t WHERE t.lft >= $1 AND t.rgt <= $2%s", T,
                       scope_clause(ti, "t", 3));
        add(i4), add(i4);
        if (S)
            add(sc);
        break;
    case P_DELETE_ONE:
        sql = psprintf("DELETE FROM %s t WHERE t.%s %s $1%s", T, I, EQ, id_scope_clause(ti, "t", 2));
        add(id);
        if (ti->scoped_ids)
            add(sc);
        break;
    case P_SCOPES:
        sql = S ? psprintf("SELECT DISTINCT t.%s FROM %s t ORDER BY 1", ti->qscope, T)
                : pstrdup("SELECT NULL::int4");
        break;
    case N_TREE_PLANS:
        break;
    }

    /* The write-back is planned for each call: its arrays hold a few rows or
     * a whole bulk load, and only a plan that sees their length picks the
     * right join (a generic plan assumes a few rows: one id probe per row). */
    return pg::spi::prepare_kept(sql, n, types,
                                 which == P_WRITE_BACK || which == P_ROOT_ROWS ? CURSOR_OPT_CUSTOM_PLAN : 0);
}

SPIPlanPtr tree_plan(TreeInfo *ti, TreePlan which)
{
    if (ti->plans[which] == NULL)
        ti->plans[which] = prepare(ti, which);
    return ti->plans[which];
}

/* A node argument of any type as a value of the id column's type: the same
 * type as is, anything else through its text form (so 5 finds a bigint id
 * and '…'::text a uuid id). */
Datum tree_cast_id(TreeInfo *ti, Datum value, Oid type)
{
    if (type == ti->id_type)
        return value;
    Oid out, in, ioparam;
    bool varlena;
    getTypeOutputInfo(type, &out, &varlena);
    char *text = OidOutputFunctionCall(out, value);
    getTypeInputInfo(ti->id_type, &in, &ioparam);
    return OidInputFunctionCall(in, text, ioparam, -1);
}

/* A scope argument of any type as a value of the scope column's type (as
 * tree_cast_id: a literal of unknown type through its text). */
Datum tree_cast_scope(TreeInfo *ti, Datum value, Oid type)
{
    if (type == ti->scope_type)
        return value;
    Oid out, in, ioparam;
    bool varlena;
    char *text;
    if (type == UNKNOWNOID)
        text = DatumGetCString(value);
    else
    {
        getTypeOutputInfo(type, &out, &varlena);
        text = OidOutputFunctionCall(out, value);
    }
    getTypeInputInfo(ti->scope_type, &in, &ioparam);
    return OidInputFunctionCall(in, text, ioparam, -1);
}

TreeInfo *tree_local_shard(TreeInfo *ti, Datum scope, bool scope_null)
{
    if (ti->citus == 'l')
    {
        /* A Citus local table: its one shard, on the coordinator. */
        int n;
        Oid *shards = pg::citus::local_shards(ti->relid, &n);
        if (n != 1)
        {
            const char *name = get_rel_name(ti->relid);
            throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                            pg::format("tree table %s is a Citus local table, stored on the coordinator", name),
                            "", "Call the tree functions on the coordinator.");
        }
        return tree_info(shards[0], false);
    }
    if (ti->citus != 'd')
        return ti;
    if (scope_null)
    {
        const char *name = get_rel_name(ti->relid);
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                        pg::format("tree table %s is distributed by its scope column: the scope must be given",
                                   name),
                        "", "Pass in_scope => the node's scope (tree_insert: the scope in the row).");
    }
    char *value = tree_scope_text(ti, scope, false);
    bool distributed;
    Oid shard = pg::citus::local_placement(ti->relid, cstring_to_text(value), &distributed);
    if (!OidIsValid(shard))
    {
        const char *name = get_rel_name(ti->relid);
        const char *node = pg::citus::placement_node(ti->relid, cstring_to_text(value));
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        pg::format("scope %s of tree table %s is stored on another node (%s)", value, name, node),
                        "The tree functions work on the shard holding the scope, on the node that holds it.",
                        "Use plain INSERT, UPDATE and DELETE (Citus routes them), connect to that node, or "
                        "call the function from one distributed with create_distributed_function(..., "
                        "colocate_with => the table), whose distribution argument is the scope.");
    }
    return tree_info(shard, false);
}

/* "key=value" arguments (attachment_from_trigger reads them back). */
char *tree_trigger_args(const char *id, const char *parent, const char *scope, const char *order,
                        const char *on_delete, const char *numbering, bool scoped_ids)
{
    auto arg = [](const char *key, const char *value) {
        return quote_literal_cstr(psprintf("%s=%s", key, value));
    };
    char *out = psprintf("%s, %s", arg("id", id), arg("parent", parent));
    if (scope)
        out = psprintf("%s, %s", out, arg("scope", scope));
    if (order)
        out = psprintf("%s, %s", out, arg("order", order));
    return psprintf("%s, %s, %s, %s", out, arg("on_delete", on_delete), arg("numbering", numbering),
                    arg("ids", scoped_ids ? "scope" : "table"));
}

int tree_cmp_id(TreeInfo *ti, Datum a, Datum b)
{
    return ApplySortComparator(a, false, b, false, &ti->id_sort);
}

/* Scopes compare as the tree's statements compare them (eq_scope: the
 * type's default btree opclass, the column's collation), not by their text:
 * numeric 1.0 and 1.00 are one scope. */
int tree_cmp_scope(TreeInfo *ti, Datum a, Datum b)
{
    return DatumGetInt32(FunctionCall2Coll(&ti->scope_cmp, ti->scope_coll, a, b));
}

/* Order values compare NULLS LAST, as ORDER BY does. */
int tree_cmp_order(TreeInfo *ti, Datum a, bool a_null, Datum b, bool b_null)
{
    if (a_null || b_null)
        return a_null == b_null ? 0 : a_null ? 1 : -1;
    return DatumGetInt32(FunctionCall2Coll(&ti->order_cmp, ti->order_coll, a, b));
}
