/*
 * api.cpp: tree_attach, tree_detach, tree_insert, tree_move, tree_delete,
 * tree_rebuild.
 *
 * Structural functions run as the caller (their writes need the caller's
 * privileges on the table), take the tree lock before reading any number,
 * and keep the numbering themselves while the triggers stand aside.
 */
#include "tree/tree.h"
#include "pg/citus.h"
#include "pg/spi.h"
#include "errors.h"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace {

void require(FunctionCallInfo fcinfo, int arg, const char *name)
{
    if (PG_ARGISNULL(arg))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                        pg::format("argument %s must not be NULL", name));
}

/* The table behind a regclass argument, owned by the caller (for attach/detach). */
void check_owned_table(Oid relid)
{
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tup))
        throw pg::Error(ERRCODE_UNDEFINED_TABLE, pg::format("relation %u does not exist", relid));
    char kind = ((Form_pg_class) GETSTRUCT(tup))->relkind;
    ReleaseSysCache(tup);
    if (kind != RELKIND_RELATION)
    {
        const char *name = get_rel_name(relid);
        throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("\"%s\" is not a table", name),
                        "Only ordinary tables can be attached as trees.");
    }
    if (!pg_class_ownercheck(relid, GetUserId()))
    {
        const char *name = get_rel_name(relid);
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, pg::format("must be owner of table %s", name));
    }
}

/*
 * Privileges of the tree functions that write (docs/design/security.md): each
 * needs what the equivalent plain statement needs, checked up front with
 * PostgreSQL's message; the maintenance itself then runs as the table's
 * owner, as the triggers' does for plain statements.
 */
bool table_priv(Oid relid, AclMode mode, Oid role = GetUserId())
{
    return pg_class_aclcheck(relid, role, mode) == ACLCHECK_OK;
}

/* The privilege on the table, or on column att. */
bool column_priv(Oid relid, AttrNumber att, AclMode mode, Oid role = GetUserId())
{
    return table_priv(relid, mode, role) || pg_attribute_aclcheck(relid, att, role, mode) == ACLCHECK_OK;
}

/* The privilege on the table or on any of its columns (an INSERT or a
 * RETURNING the caller's columns then decide, as PostgreSQL checks them). */
bool any_column_priv(Oid relid, AclMode mode)
{
    return table_priv(relid, mode) ||
           pg_attribute_aclcheck_all(relid, GetUserId(), mode, ACLMASK_ANY) == ACLCHECK_OK;
}

void deny(Oid relid)
{
    const char *name = get_rel_name(relid);
    throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, pg::format("permission denied for table %s", name ? name : "?"));
}

/*
 * Maintenance as the owner would pass over the caller's row-level security
 * policies: a caller they apply to may use plain statements, not the
 * functions.
 */
void refuse_rls(Oid relid)
{
    if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
    {
        const char *name = get_rel_name(relid);
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        pg::format("row-level security of table %s applies to the caller", name ? name : "?"),
                        "Tree functions write as the table's owner and cannot apply the caller's policies.",
                        "Use plain INSERT, UPDATE and DELETE on the table.");
    }
}

/* Run DDL or a one-off statement under a pinned search path. */
void run_sql(const char *sql)
{
    int nest = NewGUCNestLevel();
    /* "already exists, skipping" is expected when attaching again. */
    set_config_option("client_min_messages", "warning", PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
    int rc = pg::spi::execute(sql, false, 0);
    AtEOXact_GUC(true, nest);
    if (rc < 0)
        elog(ERROR, "chronicle: statement failed: %s", SPI_result_code_string(rc));
}

/*
 * Write chronicle._tree_tables as its owner: writers have no direct access.
 * latest: with the latest snapshot instead of the statement's (under
 * REPEATABLE READ, the transaction's), as catalog lookups read the table's
 * triggers and tree_info() reads the row (meta.cpp, load): what tree_detach
 * does with the row must agree with the triggers it finds.
 */
void meta_write(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
                bool latest = false)
{
    Oid meta = get_relname_relid("_tree_tables", get_namespace_oid("chronicle", false));
    HeapTuple ct = SearchSysCache1(RELOID, ObjectIdGetDatum(meta));
    Oid owner = ((Form_pg_class) GETSTRUCT(ct))->relowner;
    ReleaseSysCache(ct);
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
    int rc;
    if (latest)
    {
        /* This transaction's own earlier writes (DROP TRIGGER) are seen too. */
        CommandCounterIncrement();
        SPIPlanPtr plan = pg::spi::prepare(sql, nargs, types);
        rc = pg::spi::execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot, false,
                                       true, 0);
    }
    else
        rc = pg::spi::execute_with_args(sql, nargs, types, values, nulls, false, 0);
    SetUserIdAndSecContext(save_user, save_sec);
    if (rc < 0)
        elog(ERROR, "chronicle: statement failed: %s", SPI_result_code_string(rc));
}

AttrNumber user_column(Oid relid, const char *name, const char *role, Oid *type)
{
    AttrNumber att = get_attnum(relid, name);
    if (att <= 0)
        throw pg::Error(ERRCODE_UNDEFINED_COLUMN,
                        pg::format("%s column \"%s\" of table %s does not exist", role, name,
                                   get_rel_name(relid)));
    if (strcmp(name, "lft") == 0 || strcmp(name, "rgt") == 0 || strcmp(name, "depth") == 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("column \"%s\" cannot be the %s column: lft, rgt and depth are "
                                   "managed by chronicle",
                                   name, role));
    *type = get_atttype(relid, att);
    return att;
}

/*
 * A unique, non-partial, immediate index on exactly the id column; or, with
 * scope_att, on exactly the id and scope columns (in either order).
 */
bool id_is_unique(Oid relid, AttrNumber att, AttrNumber scope_att = 0)
{
    bool found = false;
    Relation rel = relation_open(relid, AccessShareLock);
    List *indexes = RelationGetIndexList(rel);
    ListCell *lc;
    foreach (lc, indexes)
    {
        HeapTuple tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
        if (!HeapTupleIsValid(tup))
            continue;
        Form_pg_index idx = (Form_pg_index) GETSTRUCT(tup);
        bool keys = scope_att ? idx->indnkeyatts == 2 &&
                                    ((idx->indkey.values[0] == att && idx->indkey.values[1] == scope_att) ||
                                     (idx->indkey.values[0] == scope_att && idx->indkey.values[1] == att))
                              : idx->indnkeyatts == 1 && idx->indkey.values[0] == att;
        if (idx->indisunique && idx->indimmediate && keys && heap_attisnull(tup, Anum_pg_index_indpred, NULL))
            found = true;
        ReleaseSysCache(tup);
    }
    relation_close(rel, AccessShareLock);
    return found;
}

static bool id_not_null(Oid relid, AttrNumber att)
{
    Relation rel = relation_open(relid, AccessShareLock);
    bool not_null = TupleDescAttr(RelationGetDescr(rel), att - 1)->attnotnull;
    relation_close(rel, AccessShareLock);
    return not_null;
}

char placement_code(FunctionCallInfo fcinfo, int arg)
{
    require(fcinfo, arg, "placement");
    char *p = text_to_cstring(PG_GETARG_TEXT_PP(arg));
    if (strcmp(p, "first_child") == 0)
        return 'f';
    if (strcmp(p, "last_child") == 0)
        return 'l';
    if (strcmp(p, "before") == 0)
        return 'b';
    if (strcmp(p, "after") == 0)
        return 'a';
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("unknown placement \"%s\"", p), "",
                    "Use first_child, last_child, before or after.");
}

char mode_code(const char *m)
{
    if (strcmp(m, "cascade") == 0)
        return DEL_CASCADE;
    if (strcmp(m, "promote") == 0)
        return DEL_PROMOTE;
    if (strcmp(m, "restrict") == 0)
        return DEL_RESTRICT;
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("unknown delete mode \"%s\"", m), "",
                    "Use cascade, promote or restrict.");
}

/* Renumber every tree of the table from its parent column (attach, rebuild). */
uint64 rebuild_all(TreeInfo *ti)
{
    tree_lock_table(ti, true);
    if (ti->per_root)
        return tree_renumber_roots(ti, NULL, 0, true, true, NULL, 0);
    tree_run(tree_plan(ti, P_SCOPES), NULL, NULL, false);
    uint64 nscopes = SPI_processed;
    Datum *scopes = (Datum *) palloc(sizeof(Datum) * (nscopes + 1));
    bool *nulls = (bool *) palloc(sizeof(bool) * (nscopes + 1));
    for (uint64 i = 0; i < nscopes; i++)
        scopes[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &nulls[i]);
    /* The scope values point into SPI's tuple table, kept until SPI_finish. */
    uint64 total = 0;
    for (uint64 i = 0; i < nscopes; i++)
    {
        if (ti->scope_att && nulls[i])
            throw pg::Error(ERRCODE_NOT_NULL_VIOLATION,
                            pg::format("the scope column of tree table %s has NULL values",
                                       ti->qtable));
        tree_lock_scope(ti, scopes[i], nulls[i]);
        total += tree_renumber(ti, scopes[i], nulls[i], true, NULL, 0);
    }
    return total;
}

} // namespace

SQL_FUNCTION(chronicle_tree_attach)
{
        require(fcinfo, 0, "tbl");
        require(fcinfo, 1, "id_column");
        require(fcinfo, 2, "parent_column");
        require(fcinfo, 5, "on_delete");
        Oid relid = PG_GETARG_OID(0);
        const char *idc = NameStr(*PG_GETARG_NAME(1));
        const char *parc = NameStr(*PG_GETARG_NAME(2));
        const char *scopec = PG_ARGISNULL(3) ? NULL : NameStr(*PG_GETARG_NAME(3));
        const char *ordc = PG_ARGISNULL(4) ? NULL : NameStr(*PG_GETARG_NAME(4));
        char *on_delete = text_to_cstring(PG_GETARG_TEXT_PP(5));
        mode_code(on_delete);
        require(fcinfo, 6, "numbering");
        char *numbering = text_to_cstring(PG_GETARG_TEXT_PP(6));
        if (strcmp(numbering, "per_scope") != 0 && strcmp(numbering, "per_root") != 0)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("unknown numbering \"%s\"", numbering), "",
                            "Use per_scope or per_root.");
        bool per_root = strcmp(numbering, "per_root") == 0;
        if (per_root && scopec)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "numbering per_root cannot be combined with a scope column",
                            "Each root tree is numbered on its own; its root's id (tree_root) "
                            "identifies it.");
        check_owned_table(relid);
        /*
         * The table before anything else of the attach, and before its row in
         * chronicle._tree_tables (docs/design/locking.md: level 1, then 4):
         * an attach that wrote its row and then waited for the table held
         * what another attach, in a transaction already holding the table,
         * waited for (40P01; isolation spec tree_attach_order).  Checked
         * again once held: the owner may have changed (or the table gone)
         * while we waited.
         */
        LockRelationOid(relid, AccessExclusiveLock);
        check_owned_table(relid);
        /* Its row in chronicle._tree_tables would outlive the session's table. */
        if (get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("\"%s\" is a temporary table", name),
                            "Temporary tables cannot be attached as trees.");
        }

        /*
         * A Citus table's triggers fire on its shards, which need the
         * attachment there: it travels in the lock trigger's arguments, which
         * Citus copies when it distributes the table (docs/design/citus.md).
         * Attaching a table already distributed would number its rows through
         * Citus, whose shards' triggers would take chronicle's writes for a
         * user's (TR005).
         */
        {
            char method, *dist_column;
            if (pg::citus::installed() &&
                (pg::citus::table_method(relid, &dist_column) != 0 ||
                 OidIsValid(pg::citus::shard_parent(relid, &method, &dist_column))))
            {
                const char *name = get_rel_name(relid);
                throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                                pg::format("table %s is a Citus table or shard", name),
                                "chronicle.tree_attach numbers the rows of a table of this node.",
                                "Attach the table before distributing it: tree_attach(..., scope_column => "
                                "'<column>'), then create_distributed_table(tbl, '<column>') with "
                                "citus.enable_unsafe_triggers on.");
            }
        }
        Oid idtype, ptype, stype, otype;
        AttrNumber idatt = user_column(relid, idc, "id", &idtype);
        user_column(relid, parc, "parent", &ptype);
        AttrNumber scopeatt = 0;
        if (scopec)
            scopeatt = user_column(relid, scopec, "scope", &stype);
        if (ordc)
            user_column(relid, ordc, "order", &otype);
        if (strcmp(idc, parc) == 0 || (scopec && (strcmp(scopec, idc) == 0 || strcmp(scopec, parc) == 0)))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "the id, parent and scope columns must be distinct");
        /* Checked before any DDL: the (scope, lft) index needs btree, the scope lock a hash. */
        if (scopec)
        {
            TypeCacheEntry *tc = lookup_type_cache(stype, TYPECACHE_BTREE_OPFAMILY | TYPECACHE_HASH_PROC);
            if (!OidIsValid(tc->btree_opf) || !OidIsValid(tc->hash_proc))
            {
                const char *type_name = format_type_be(stype);
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("the scope column's type %s has no btree ordering or no hash function",
                                           type_name));
            }
        }
        if (ptype != idtype)
            throw pg::Error(ERRCODE_DATATYPE_MISMATCH,
                            pg::format("parent column \"%s\" is of type %s but id column \"%s\" is "
                                       "of type %s",
                                       parc, format_type_be(ptype), idc, format_type_be(idtype)));
        /*
         * Ids unique in the table (today's rule), or, with a scope column,
         * within their scope: a key on (scope, id), which is what Citus
         * allows on a table distributed by its scope.  A node is then named
         * by its scope and id.
         */
        bool scoped_ids = false;
        if (!id_is_unique(relid, idatt))
        {
            scoped_ids = scopec && !per_root && id_is_unique(relid, idatt, scopeatt);
            if (!scoped_ids)
            {
                const char *name = get_rel_name(relid);
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("id column \"%s\" of table %s is not unique", idc, name),
                                scopec && !per_root
                                    ? pg::format("Nor is it unique within scope column \"%s\".", scopec)
                                    : std::string(),
                                scopec && !per_root
                                    ? "Add a primary key or unique constraint on it, or on (scope, id)."
                                    : "Add a primary key or unique constraint on it.");
            }
        }
        /* A unique index admits any number of NULLs, and a NULL id names no node. */
        if (!id_not_null(relid, idatt))
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(CHRONICLE_NOT_A_TREE,
                            pg::format("id column \"%s\" of table %s must be NOT NULL", idc, name),
                            "A row with a NULL id could not be numbered or named.",
                            "Declare it NOT NULL (a primary key is).");
        }
        if (!OidIsValid(get_array_type(idtype)))
        {
            const char *type_name = format_type_be(idtype);
            throw pg::Error(CHRONICLE_NOT_A_TREE,
                            pg::format("id type %s has no array type", type_name));
        }
        /* Checked before any DDL: the trigger's WHEN compares order values. */
        if (ordc)
        {
            TypeCacheEntry *tc = lookup_type_cache(otype, TYPECACHE_CMP_PROC);
            if (!OidIsValid(tc->cmp_proc))
            {
                const char *type_name = format_type_be(otype);
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("the order column's type %s has no btree ordering", type_name));
            }
        }
        if (per_root)
        {
            TypeCacheEntry *tc = lookup_type_cache(idtype, TYPECACHE_HASH_PROC);
            if (!OidIsValid(tc->hash_proc))
            {
                const char *type_name = format_type_be(idtype);
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("the id column's type %s has no hash function", type_name),
                                "numbering per_root locks each root tree by its id.");
            }
            AttrNumber a = get_attnum(relid, "tree_root");
            if (a > 0 && get_atttype(relid, a) != idtype)
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("column \"tree_root\" of table %s exists and is not of the id "
                                           "column's type",
                                           get_rel_name(relid)));
            if (strcmp(idc, "tree_root") == 0 || strcmp(parc, "tree_root") == 0 ||
                (ordc && strcmp(ordc, "tree_root") == 0))
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                "column \"tree_root\" is managed by chronicle with numbering per_root");
        }
        for (const char *col : {"lft", "rgt", "depth"})
        {
            AttrNumber a = get_attnum(relid, col);
            if (a > 0 && get_atttype(relid, a) != INT4OID)
                throw pg::Error(CHRONICLE_NOT_A_TREE,
                                pg::format("column \"%s\" of table %s exists and is not an integer",
                                           col, get_rel_name(relid)));
        }

        SPI_connect();
        Oid types[8] = {REGCLASSOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID};
        Datum values[8] = {ObjectIdGetDatum(relid), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2),
                           PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3),
                           PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4),
                           CStringGetTextDatum(on_delete), CStringGetTextDatum(numbering),
                           CStringGetTextDatum(scoped_ids ? "scope" : "table")};
        char nulls[8] = {' ', ' ', ' ', scopec ? ' ' : 'n', ordc ? ' ' : 'n', ' ', ' ', ' '};
        meta_write("INSERT INTO chronicle._tree_tables (tbl, id_column, parent_column, "
                   "scope_column, order_column, on_delete, numbering, ids_unique_in) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tbl) DO NOTHING",
                   8, types, values, nulls);
        if (SPI_processed == 0)
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(ERRCODE_DUPLICATE_OBJECT,
                            pg::format("table %s is already attached as a tree", name),
                            "", "Detach it first with chronicle.tree_detach().");
        }

        char *T = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                             get_rel_name(relid));
        const char *P = quote_identifier(parc);
        const char *S = scopec ? quote_identifier(scopec) : NULL;
        run_sql(psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS lft integer, "
                         "ADD COLUMN IF NOT EXISTS rgt integer, "
                         "ADD COLUMN IF NOT EXISTS depth integer",
                         T));
        run_sql(psprintf("ALTER TABLE %s ALTER COLUMN lft DROP DEFAULT, "
                         "ALTER COLUMN rgt DROP DEFAULT, ALTER COLUMN depth DROP DEFAULT",
                         T));
        if (per_root)
        {
            /* The root's id: one index range (tree_root, lft) holds each tree. */
            run_sql(psprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS tree_root %s", T,
                             format_type_extended(idtype, -1, FORMAT_TYPE_FORCE_QUALIFY)));
            run_sql(psprintf("ALTER TABLE %s ALTER COLUMN tree_root DROP DEFAULT", T));
        }
        const char *lead = per_root ? "tree_root, " : S ? psprintf("%s, ", S) : "";
        run_sql(psprintf("CREATE INDEX IF NOT EXISTS chronicle_tree_%u_lft ON %s (%slft)", relid, T,
                         lead));
        /* Its arguments carry the attachment to a Citus table's shards (meta.cpp). */
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_1_lock BEFORE INSERT OR UPDATE OR DELETE "
                         "ON %s FOR EACH STATEMENT EXECUTE FUNCTION chronicle._tree_lock_trigger(%s)",
                         T, tree_trigger_args(idc, parc, scopec, ordc, on_delete, numbering, scoped_ids)));
        /* AFTER, not BEFORE: a BEFORE ROW trigger makes PostgreSQL lock (and
         * WAL-log the lock of) every row an UPDATE touches, including each row
         * chronicle renumbers; the WHEN clause lets those skip it entirely.
         * Its first test is a C function, not current_setting(): it runs for
         * every renumbered row, and a custom setting's lookup by name cost
         * 3.5% of a leaf insert into a 100,000-node tree (callgrind). */
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_2_guard AFTER UPDATE OF lft, rgt, depth%s "
                         "ON %s FOR EACH ROW WHEN (NOT chronicle._tree_maintaining() AND "
                         "(OLD.lft IS DISTINCT FROM NEW.lft OR OLD.rgt IS "
                         "DISTINCT FROM NEW.rgt OR OLD.depth IS DISTINCT FROM NEW.depth%s)) "
                         "EXECUTE FUNCTION chronicle._tree_guard_trigger()",
                         per_root ? ", tree_root" : "", T,
                         per_root ? " OR OLD.tree_root IS DISTINCT FROM NEW.tree_root" : ""));
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_3_insert AFTER INSERT ON %s "
                         "REFERENCING NEW TABLE AS chronicle_new FOR EACH STATEMENT "
                         "EXECUTE FUNCTION chronicle._tree_insert_trigger()",
                         T));
        /* With an order column, a new order value moves the node among its siblings. */
        const char *O = ordc ? quote_identifier(ordc) : NULL;
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_4_moved AFTER UPDATE OF %s%s%s%s%s ON %s "
                         "FOR EACH ROW WHEN (OLD.%s IS DISTINCT FROM NEW.%s%s%s%s%s%s) "
                         "EXECUTE FUNCTION chronicle._tree_moved_trigger()",
                         P, S ? ", " : "", S ? S : "", O ? ", " : "", O ? O : "", T, P, P,
                         S ? " OR OLD." : "", S ? S : "", S ? " IS DISTINCT FROM NEW." : "",
                         S ? S : "",
                         O ? psprintf(" OR OLD.%s IS DISTINCT FROM NEW.%s", O, O) : ""));
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_5_update AFTER UPDATE ON %s "
                         "FOR EACH STATEMENT EXECUTE FUNCTION chronicle._tree_update_trigger()",
                         T));
        run_sql(psprintf("CREATE TRIGGER chronicle_tree_6_delete AFTER DELETE ON %s "
                         "REFERENCING OLD TABLE AS chronicle_old FOR EACH STATEMENT "
                         "EXECUTE FUNCTION chronicle._tree_delete_trigger()",
                         T));
        CacheInvalidateRelcacheByRelid(relid);
        CommandCounterIncrement();
        TreeInfo *ti = tree_info(relid, false);
        rebuild_all(ti);
        SPI_finish();
        PG_RETURN_VOID();
}

/* Does relid carry one of chronicle's tree triggers? */
static bool has_tree_triggers(Oid relid)
{
    Oid nsp = get_namespace_oid("chronicle", false);
    Relation rel = relation_open(relid, AccessShareLock);
    bool found = false;
    for (int i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers && !found; i++)
    {
        Trigger *t = &rel->trigdesc->triggers[i];
        found = strncmp(t->tgname, "chronicle_tree_", strlen("chronicle_tree_")) == 0 &&
                get_func_namespace(t->tgfoid) == nsp;
    }
    relation_close(rel, AccessShareLock);
    return found;
}

SQL_FUNCTION(chronicle_tree_detach)
{
        require(fcinfo, 0, "tbl");
        Oid relid = PG_GETARG_OID(0);
        check_owned_table(relid);
        SPI_connect();
        /*
         * The attachment is not loaded: a tree whose attachment no longer
         * loads (a column of it dropped, or distributed by another column
         * than its scope: TR004) is detached all the same, so that it can be
         * attached again.  Its rows in chronicle._tree_tables: its own, and
         * for a Citus table its local shards' (a Citus local table's shard
         * is the attached table, renamed by Citus, with its row).
         */
        char *column, repmodel, shard_method;
        char method = pg::citus::table_method(relid, &column, &repmodel);
        bool shard = method == 0 && OidIsValid(pg::citus::shard_parent(relid, &shard_method, &column));
        int nshards = 0;
        Oid *shards = method ? pg::citus::local_shards(relid, &nshards) : NULL;
        Datum *oids = (Datum *) palloc(sizeof(Datum) * (nshards + 1));
        oids[0] = ObjectIdGetDatum(relid);
        for (int i = 0; i < nshards; i++)
            oids[i + 1] = ObjectIdGetDatum(shards[i]);
        Oid types[1] = {OIDARRAYOID};
        Datum values[1] = {PointerGetDatum(construct_array(oids, nshards + 1, OIDOID, sizeof(Oid), true, TYPALIGN_INT))};
        const char *find = "SELECT ctid FROM chronicle._tree_tables WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)";
        meta_write(find, 1, types, values, NULL, true);
        if (SPI_processed == 0)
        {
            if (!has_tree_triggers(relid))
            {
                const char *name = get_rel_name(relid);
                throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("table %s is not attached as a tree", name), "",
                                "Attach it with chronicle.tree_attach().");
            }
            if (shard || (method && !pg::citus::is_coordinator()))
            {
                /* A distributed tree's shell or shard on a worker: its
                 * attachment is the coordinator's. */
                const char *name = get_rel_name(relid);
                throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                                pg::format("tree table %s was attached on the Citus coordinator", name), "",
                                "Detach it there: Citus removes the triggers from every shard.");
            }
            /* Its triggers without its row: Citus re-created the table
             * (alter_distributed_table, undistribute_table), or a copy of
             * the table took them along.  They go. */
        }
        /* The table before the tree lock, as every writer takes them: DROP
         * TRIGGER below needs ACCESS EXCLUSIVE, and taking it after the tree
         * lock waited for writers that wait for the tree lock (40P01;
         * docs/design/locking.md, isolation spec locks_tree_detach). */
        LockRelationOid(relid, AccessExclusiveLock);
        check_owned_table(relid); /* the owner may have changed while we waited */
        tree_lock_relation(relid, true);
        /*
         * Asked again now that nothing can change it: a tree_attach or
         * tree_detach that committed while this one waited for the table is
         * seen, in the row as in the triggers.  The row is read and deleted
         * with the latest snapshot, not the transaction's: a REPEATABLE READ
         * detach whose snapshot predates an attach it waited for dropped the
         * attach's triggers and left its row, a table "attached" (tree_attach
         * 42710) whose INSERTs nothing numbered (isolation spec
         * tree_detach_attach).
         */
        meta_write(find, 1, types, values, NULL, true);
        if (SPI_processed == 0 && !has_tree_triggers(relid))
        {
            const char *name = get_rel_name(relid);
            throw pg::Error(CHRONICLE_NOT_A_TREE, pg::format("table %s is not attached as a tree", name), "",
                            "Attach it with chronicle.tree_attach().");
        }
        /*
         * Under REPEATABLE READ or SERIALIZABLE, a row its snapshot cannot
         * see was attached concurrently: deleting it is what snapshot
         * isolation forbids (a plain DELETE of a row inserted after the
         * snapshot is 40001), and SSI would not see it either (the latest
         * snapshot's read registers no conflict with the attach).  A
         * transaction that had read "not attached" committed a detach of
         * that attach (isolation spec tree_detach_serializable).
         */
        if (SPI_processed > 0 && IsolationUsesXactSnapshot())
        {
            uint64 nlatest = SPI_processed;
            ItemPointerData *latest = (ItemPointerData *) palloc(sizeof(ItemPointerData) * nlatest);
            for (uint64 i = 0; i < nlatest; i++)
            {
                bool isnull;
                Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
                latest[i] = *(ItemPointer) DatumGetPointer(d);
            }
            meta_write(find, 1, types, values, NULL, false);
            for (uint64 i = 0; i < nlatest; i++)
            {
                bool seen = false;
                for (uint64 j = 0; j < SPI_processed && !seen; j++)
                {
                    bool isnull;
                    Datum d = SPI_getbinval(SPI_tuptable->vals[j], SPI_tuptable->tupdesc, 1, &isnull);
                    seen = ItemPointerEquals(&latest[i], (ItemPointer) DatumGetPointer(d));
                }
                if (!seen)
                {
                    const char *name = get_rel_name(relid);
                    throw pg::Error(ERRCODE_T_R_SERIALIZATION_FAILURE,
                                    pg::format("could not serialize access due to a concurrent tree_attach of "
                                               "table %s",
                                               name),
                                    "The table was attached after this transaction's snapshot was taken.",
                                    "Retry the transaction.");
                }
            }
        }
        const char *T = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                   get_rel_name(relid));
        /* A Citus table's: Citus drops them on its shards too, if told
         * that triggers on its tables are wanted (for this statement only). */
        int nest = NewGUCNestLevel();
        if (method)
            set_config_option("citus.enable_unsafe_triggers", "on", PGC_USERSET, PGC_S_SESSION,
                              GUC_ACTION_SAVE, true, 0, false);
        for (const char *trig : {"chronicle_tree_1_lock", "chronicle_tree_2_guard",
                                 "chronicle_tree_3_insert", "chronicle_tree_4_moved",
                                 "chronicle_tree_5_update", "chronicle_tree_6_delete"})
            run_sql(psprintf("DROP TRIGGER IF EXISTS %s ON %s", trig, T));
        AtEOXact_GUC(true, nest);
        meta_write("DELETE FROM chronicle._tree_tables WHERE tbl::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)", 1,
                   types, values, NULL, true);
        for (int i = 0; i <= nshards; i++)
            CacheInvalidateRelcacheByRelid(DatumGetObjectId(oids[i]));
        SPI_finish();
        PG_RETURN_VOID();
}

/* Whether the table has a foreign key to itself; takes the table's ROW
 * EXCLUSIVE lock (level 1, which its tree lock follows anyway). */
static bool references_itself(Oid relid)
{
    Relation rel = table_open(relid, RowExclusiveLock);
    bool found = false;
    ListCell *lc;
    foreach (lc, RelationGetFKeyList(rel))
    {
        ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
        if (fk->confrelid == relid)
            found = true;
    }
    table_close(rel, NoLock);
    return found;
}

/*
 * The in_scope argument (arg) of a function: given or not, as a value of the
 * scope column's type.  A table without a scope column has no scope to give.
 */
struct ScopeArg
{
    bool given;
    Datum value;
};

ScopeArg scope_arg(FunctionCallInfo fcinfo, TreeInfo *ti, int arg)
{
    ScopeArg sa = {false, (Datum) 0};
    if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
        return sa;
    if (!ti->scope_att || ti->per_root)
    {
        const char *name = get_rel_name(ti->relid);
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("tree table %s has no scope column", name ? name : "?"), "",
                        "Leave in_scope NULL.");
    }
    sa.given = true;
    sa.value = tree_cast_scope(ti, PG_GETARG_DATUM(arg), get_fn_expr_argtype(fcinfo->flinfo, arg));
    return sa;
}

/*
 * The tree a function works on: the table's own, or, for a table distributed
 * by Citus, its shard holding the scope (on this node: tree_local_shard).
 */
TreeInfo *working_tree(TreeInfo *ti, ScopeArg sa)
{
    return tree_is_shell(ti) ? tree_local_shard(ti, sa.value, !sa.given) : ti;
}

/*
 * The table (ROW EXCLUSIVE, level 1 of docs/design/locking.md, which every
 * write takes first anyway) before a structural function reads its
 * attachment: the attachment then cannot change until the call ends
 * (tree_attach and tree_detach need ACCESS EXCLUSIVE).  Taken later (by the
 * function's first statement, or its tree lock), a tree_detach and
 * tree_attach with other columns committed while the call waited, and the
 * call went on with arguments converted to the old id column's type, which
 * the reloaded attachment read as the new one's: an int id read as a text
 * pointer crashed the server (isolation spec tree_reattach_waiter).
 */
static void lock_before_reading(Oid relid)
{
    tree_lock_before_reading(relid, RowExclusiveLock);
}

/* A structural function's node and its tree's lock, taken before any numbers are read. */
static TreeInfo *lock_tree_of(TreeInfo *ti, Datum id, ScopeArg sa, TreeNode *node, bool must_exist,
                              const char *role = "node")
{
    Oid relid = ti->relid;
    if (!tree_locate(ti, id, sa.given, sa.value, true, node))
    {
        if (must_exist)
            tree_node_not_found(ti, id, sa.given, sa.value, role);
        return ti;
    }
    tree_lock_for_write(ti, node->scope, node->scope_null);
    /* Detached while we waited: TR004, as if it had been before. */
    ti = tree_info(relid, false);
    if (!tree_fetch_node(ti, id, node->scope, node->scope_null, node)) /* deleted while we waited */
        tree_node_not_found(ti, id, sa.given, sa.value, role);
    return ti;
}

SQL_FUNCTION(chronicle_tree_insert)
{
        require(fcinfo, 0, "tbl");
        require(fcinfo, 1, "node");
        Oid relid = PG_GETARG_OID(0);
        Jsonb *node = PG_GETARG_JSONB_P(1);
        char placement = placement_code(fcinfo, 3);
        if (!JB_ROOT_IS_OBJECT(node) || JB_ROOT_IS_SCALAR(node))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "node must be a JSON object");
        SPI_connect();
        lock_before_reading(relid);
        TreeInfo *ti = tree_info(relid, false);
        /* INSERT ... RETURNING *: the INSERT itself runs as the caller. */
        if (!any_column_priv(relid, ACL_INSERT) || !any_column_priv(relid, ACL_SELECT))
            deny(relid);
        /*
         * The row's scope, when the object gives one: where ids are unique
         * only within their scope it is the scope the target is looked up in,
         * and on a table distributed by Citus the shard the row goes to (on
         * a table whose ids are unique, the target decides, as it always did).
         */
        ScopeArg row_scope = {false, (Datum) 0};
        if (ti->scope_att && !ti->per_root)
        {
            Datum kv[2] = {PG_GETARG_DATUM(1),
                           CStringGetTextDatum(get_attname(relid, ti->scope_att, false))};
            Oid kt[2] = {JSONBOID, TEXTOID};
            if (pg::spi::execute_with_args("SELECT $1 OPERATOR(pg_catalog.->>) $2", 2, kt, kv, NULL, true, 1) !=
                SPI_OK_SELECT)
                elog(ERROR, "chronicle: reading the scope of the row failed");
            bool isnull;
            Datum v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
            if (!isnull)
            {
                row_scope.given = true;
                row_scope.value = tree_cast_scope(ti, v, TEXTOID);
            }
        }
        ti = working_tree(ti, row_scope);
        relid = ti->relid; /* a shard's attribute numbers from here on */
        bool has_target = !PG_ARGISNULL(2);
        TreeNode target;
        Datum target_id = (Datum) 0;
        if (has_target)
        {
            target_id = tree_cast_id(ti, PG_GETARG_DATUM(2), get_fn_expr_argtype(fcinfo->flinfo, 2));
            ScopeArg in = ti->scoped_ids ? row_scope : ScopeArg{false, (Datum) 0};
            ti = lock_tree_of(ti, target_id, in, &target, true);
        }

        /* INSERT the object's keys (column defaults apply to the others). */
        Datum keyarg[1] = {PG_GETARG_DATUM(1)};
        Oid keytype[1] = {JSONBOID};
        if (pg::spi::execute_with_args("SELECT pg_catalog.jsonb_object_keys($1)", 1, keytype, keyarg,
                                  NULL, true, 0) != SPI_OK_SELECT)
            elog(ERROR, "jsonb_object_keys failed");
        uint64 nkeys = SPI_processed;
        SPITupleTable *keys = SPI_tuptable;
        char *cols = pstrdup(""), *vals = pstrdup("");
        char *parent_name = get_attname(relid, ti->parent_att, false);
        /* per_root: tree_root is the tree key, managed like lft (the parent decides it). */
        char *scope_name = ti->scope_att && !ti->per_root ? get_attname(relid, ti->scope_att, false) : NULL;
        for (uint64 i = 0; i < nkeys; i++)
        {
            char *key = SPI_getvalue(keys->vals[i], keys->tupdesc, 1);
            if (strcmp(key, "lft") == 0 || strcmp(key, "rgt") == 0 || strcmp(key, "depth") == 0 ||
                (ti->per_root && strcmp(key, "tree_root") == 0))
                throw pg::Error(CHRONICLE_MANAGED_COLUMN,
                                pg::format("column \"%s\" of tree table %s is managed by chronicle",
                                           key, ti->qtable));
            AttrNumber att = get_attnum(relid, key);
            if (att <= 0)
                throw pg::Error(ERRCODE_UNDEFINED_COLUMN,
                                pg::format("column \"%s\" of tree table %s does not exist", key,
                                           ti->qtable));
            if (has_target && (att == ti->parent_att || att == ti->scope_att))
                continue; /* the target decides */
            const char *q = quote_identifier(key);
            cols = psprintf("%s%s%s", cols, *cols ? ", " : "", q);
            vals = psprintf("%s%sr.%s", vals, *vals ? ", " : "", q);
        }
        Datum args[3] = {PG_GETARG_DATUM(1), (Datum) 0, (Datum) 0};
        char nulls[3] = {' ', 'n', 'n'};
        Oid types[3] = {JSONBOID, ti->id_type, ti->scope_att ? ti->scope_type : INT4OID};
        if (has_target)
        {
            bool child = placement == 'f' || placement == 'l';
            args[1] = child ? target.id : target.parent;
            nulls[1] = (child ? false : target.parent_null) ? 'n' : ' ';
            cols = psprintf("%s%s%s", cols, *cols ? ", " : "", quote_identifier(parent_name));
            vals = psprintf("%s%s$2", vals, *vals ? ", " : "");
            if (scope_name)
            {
                args[2] = target.scope;
                nulls[2] = target.scope_null ? 'n' : ' ';
                cols = psprintf("%s, %s", cols, quote_identifier(scope_name));
                vals = psprintf("%s, $3", vals);
            }
        }
        /* scoped_ids: the new row's scope names it too. */
        const char *returning = ti->scoped_ids ? psprintf("t.%s, t.%s", ti->qid, ti->qscope)
                                               : psprintf("t.%s, NULL::int4", ti->qid);
        char *sql = *cols ? psprintf("INSERT INTO %s AS t (%s) SELECT %s FROM "
                                     "pg_catalog.jsonb_populate_record(NULL::%s, $1) AS r "
                                     "RETURNING %s",
                                     ti->qtable, cols, vals, ti->qtable, returning)
                          : psprintf("INSERT INTO %s AS t DEFAULT VALUES RETURNING %s",
                                     ti->qtable, returning);
        int rc = pg::spi::execute_with_args(sql, 3, types, args, nulls, false, 0);
        if (rc != SPI_OK_INSERT_RETURNING || SPI_processed > 1)
            elog(ERROR, "chronicle: tree_insert failed: %s", SPI_result_code_string(rc));
        /*
         * No row stored: a BEFORE INSERT trigger of the user's skipped it, or
         * one AFTER INSERT deleted it again.  Like an INSERT that inserts 0
         * rows, that is not an error; there is no stored row to return.
         */
        TreeNode fresh;
        bool isnull, scope_null = true;
        Datum fresh_scope = (Datum) 0;
        if (SPI_processed > 0 && ti->scoped_ids)
        {
            fresh_scope = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &scope_null);
            /* Of the scope column's type (an integer scope is passed by value). */
            if (!scope_null)
            {
                int16 len;
                bool byval;
                get_typlenbyval(ti->scope_type, &len, &byval);
                fresh_scope = datumCopy(fresh_scope, byval, len);
            }
        }
        if (SPI_processed == 0 ||
            !tree_fetch_node(ti, SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
                             fresh_scope, scope_null, &fresh))
        {
            SPI_finish();
            PG_RETURN_NULL();
        }
        Datum id = fresh.id;
        /* The trigger made it the last child (or placed it by the order column). */
        if (has_target && placement != 'l')
        {
            /* Placing the new row is maintenance, as the trigger's numbering was. */
            int sec;
            Oid user = tree_switch_to_owner(ti, &sec);
            tree_move_node(ti, id, fresh.scope, fresh.scope_null, target_id, false, placement, true);
            tree_switch_back(user, sec);
        }
        Datum rowarg[2] = {id, fresh.scope};
        char rownull[2] = {' ', fresh.scope_null ? 'n' : ' '};
        tree_run(tree_plan(ti, P_ROW_JSON), rowarg, rownull, false);
        if (SPI_processed == 0)
        {
            SPI_finish();
            PG_RETURN_NULL();
        }
        Datum result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        result = SPI_datumTransfer(result, false, -1);
        SPI_finish();
        return result;
}

SQL_FUNCTION(chronicle_tree_move)
{
        require(fcinfo, 0, "tbl");
        require(fcinfo, 1, "node");
        char placement = placement_code(fcinfo, 3);
        Oid relid = PG_GETARG_OID(0);
        SPI_connect();
        lock_before_reading(relid);
        TreeInfo *ti = tree_info(relid, false);
        /* UPDATE t SET parent = target WHERE id = node (and the scope, when it changes). */
        if (!column_priv(relid, ti->parent_att, ACL_UPDATE) || !column_priv(relid, ti->id_att, ACL_SELECT))
            deny(relid);
        refuse_rls(relid);
        bool may_change_scope = !ti->scope_att || ti->per_root || column_priv(relid, ti->scope_att, ACL_UPDATE);
        ScopeArg sa = scope_arg(fcinfo, ti, 4);
        ti = working_tree(ti, sa);
        Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
        Datum id = tree_cast_id(ti, PG_GETARG_DATUM(1), argtype);
        Datum target = PG_ARGISNULL(2) ? (Datum) 0 : tree_cast_id(ti, PG_GETARG_DATUM(2), argtype);
        int sec;
        Oid user = tree_switch_to_owner(ti, &sec);
        TreeNode node;
        /* per_root: a move may change rows' tree_root, which INSERTs read
         * under the table lock shared: it takes the table exclusively. */
        if (ti->per_root)
            tree_lock_table(ti, true);
        ti = lock_tree_of(ti, id, sa, &node, true);
        if (!may_change_scope && !PG_ARGISNULL(2) && !ti->scoped_ids)
        {
            TreeNode dest;
            if (tree_fetch_node(ti, target, (Datum) 0, true, &dest) &&
                (dest.scope_null != node.scope_null ||
                 (!dest.scope_null && tree_cmp_scope(ti, dest.scope, node.scope) != 0)))
                deny(relid);
        }
        tree_move_node(ti, id, node.scope, node.scope_null, target, PG_ARGISNULL(2), placement, true);
        tree_switch_back(user, sec);
        SPI_finish();
        PG_RETURN_VOID();
}

SQL_FUNCTION(chronicle_tree_delete)
{
        require(fcinfo, 0, "tbl");
        require(fcinfo, 1, "node");
        require(fcinfo, 2, "mode");
        char mode = mode_code(text_to_cstring(PG_GETARG_TEXT_PP(2)));
        Oid relid = PG_GETARG_OID(0);
        SPI_connect();
        lock_before_reading(relid);
        TreeInfo *ti = tree_info(relid, false);
        /* DELETE FROM t WHERE id = node; promote also moves the children up:
         * UPDATE t SET parent = node's parent WHERE parent = node. */
        if (!table_priv(relid, ACL_DELETE) || !column_priv(relid, ti->id_att, ACL_SELECT) ||
            (mode == DEL_PROMOTE && !column_priv(relid, ti->parent_att, ACL_UPDATE)))
            deny(relid);
        refuse_rls(relid);
        ScopeArg sa = scope_arg(fcinfo, ti, 3);
        ti = working_tree(ti, sa);
        relid = ti->relid;
        /* As the caller, as scope_arg's: the id type's input (a domain's
         * CHECK) is code of the type's owner's choosing, run as a plain
         * statement would run it, never as the table's owner. */
        Datum id = tree_cast_id(ti, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1));
        int sec;
        Oid user = tree_switch_to_owner(ti, &sec);
        /* On a scoped table with a foreign key to itself (parent column
         * REFERENCES the id), the table's tree lock EXCLUSIVE (as a plain
         * DELETE's statement trigger takes it), not SHARE: a plain INSERT of
         * a child holds the table SHARE, then its foreign key's KEY SHARE on
         * the parent row, and only then asks for the scope lock (its AFTER
         * STATEMENT trigger).  Holding the scope lock and then deleting that
         * parent row, which waits for the KEY SHARE, deadlocked with it
         * (locks_tree_fk.spec).  Without such a key no INSERT locks a row
         * before the scope lock, and SHARE keeps deletes in different scopes
         * apart (tree_per_root.spec). */
        if (ti->scope_att && references_itself(relid))
            tree_lock_table(ti, true);
        TreeNode node;
        /* per_root: promoting a root's children makes them roots (new tree_root). */
        if (ti->per_root && mode == DEL_PROMOTE)
            tree_lock_table(ti, true);
        ti = lock_tree_of(ti, id, sa, &node, true);
        tree_require_numbers(ti, id, &node, "node");
        int32 a = node.lft, b = node.rgt;
        Datum sc = node.scope;
        char sn = node.scope_null ? 'n' : ' ';
        int64 deleted = 0;
        /* Children are dealt with before the node goes, so that a foreign key
         * from the parent column sees no orphan at the end of any statement. */
        if (mode == DEL_RESTRICT && b - a > 1)
        {
            const char *node_text = tree_id_text(ti, id);
            throw pg::Error(ERRCODE_RESTRICT_VIOLATION,
                            pg::format("node %s of tree table %s has children", node_text,
                                       ti->qtable),
                            "", "Use mode cascade or promote.");
        }
        if (mode == DEL_CASCADE)
        {
            Datum args[3] = {Int32GetDatum(a), Int32GetDatum(b), sc};
            char nulls[3] = {' ', ' ', sn};
            tree_run(tree_plan(ti, P_DELETE_RANGE), args, nulls, true);
            deleted = (int64) SPI_processed;
            Datum shift[3] = {Int32GetDatum(b + 1), Int32GetDatum(-(b - a + 1)), sc};
            tree_run(tree_plan(ti, P_SHIFT_INSERT), shift, nulls, true);
        }
        else
        {
            if (mode == DEL_PROMOTE && b - a > 1)
            {
                Datum rp[3] = {id, node.parent, sc};
                char rn[3] = {' ', node.parent_null ? 'n' : ' ', sn};
                tree_run(tree_plan(ti, P_REPARENT), rp, rn, true);
            }
            Datum one[2] = {id, sc};
            char onen[2] = {' ', sn};
            tree_run(tree_plan(ti, P_DELETE_ONE), one, onen, true);
            deleted = (int64) SPI_processed;
            if (ti->per_root && node.parent_null && b - a > 1)
                /* A deleted root's children become roots of trees of their own. */
                tree_renumber_roots(ti, &sc, 1, false, false, NULL, 0);
            else
            {
                Datum args[3] = {Int32GetDatum(a), Int32GetDatum(b), sc};
                char nulls[3] = {' ', ' ', sn};
                tree_run(tree_plan(ti, P_PROMOTE_GAP), args, nulls, true);
            }
        }
        tree_switch_back(user, sec);
        SPI_finish();
        PG_RETURN_INT64(deleted);
}

SQL_FUNCTION(chronicle_tree_rebuild)
{
        require(fcinfo, 0, "tbl");
        Oid relid = PG_GETARG_OID(0);
        SPI_connect();
        /* The table before its attachment, as the structural functions: the
         * privileges are checked on the columns the rebuild writes, not on
         * those of an attachment replaced while it waited (a detach and
         * attach with new numbering columns; spec tree_rebuild_reattach). */
        lock_before_reading(relid);
        TreeInfo *ti = tree_info(relid, false);
        /* Its owner, or a role that may write the numbering itself (it holds
         * the tree's exclusive lock while it works). */
        if (!pg_class_ownercheck(relid, GetUserId()))
        {
            if (!column_priv(relid, ti->lft_att, ACL_UPDATE) || !column_priv(relid, ti->rgt_att, ACL_UPDATE) ||
                !column_priv(relid, ti->depth_att, ACL_UPDATE) ||
                (ti->per_root && !column_priv(relid, ti->scope_att, ACL_UPDATE)))
                deny(relid);
            refuse_rls(relid);
        }
        /* A table distributed by Citus: each of its shards on this node. */
        int nshards = 1;
        Oid *shards = &relid;
        if (tree_is_shell(ti))
        {
            shards = pg::citus::local_shards(relid, &nshards);
            if (nshards == 0)
            {
                const char *name = get_rel_name(relid);
                throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                                pg::format("no shard of tree table %s is on this node", name),
                                "A distributed tree is rebuilt shard by shard, on the nodes holding them.",
                                pg::format("Run it on every shard from the coordinator: SELECT * FROM "
                                           "run_command_on_shards('%s', $$SELECT chronicle.tree_rebuild('%%s')$$).",
                                           name));
            }
        }
        uint64 n = 0;
        for (int i = 0; i < nshards; i++)
        {
            /* The table before the tree lock (as rebuild_all would take them),
             * after the privilege check; then the attachment again, so that a
             * tree_detach that committed while we waited is seen: TR004. */
            LockRelationOid(shards[i], RowExclusiveLock);
            ti = tree_info(shards[i], false);
            int sec;
            Oid user = tree_switch_to_owner(ti, &sec);
            n += rebuild_all(ti);
            tree_switch_back(user, sec);
        }
        SPI_finish();
        PG_RETURN_INT64((int64) n);
}
