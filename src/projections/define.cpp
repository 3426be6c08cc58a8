/*
 * define.cpp: chronicle.define_projection, rebuild_projection and
 * drop_projection.
 *
 * The table belongs to the definer (created with the caller's rights, in a
 * schema the caller may create in); chronicle.projections, which only the
 * extension owner writes, records it.  Every write to the table (fill,
 * rebuild, the append observer) runs as the table's owner under
 * SECURITY_RESTRICTED_OPERATION, as PostgreSQL runs a table's code during
 * VACUUM or REINDEX: the definer's types, constraints and triggers never run
 * with the rights of an appender or of chronicle's owner.
 */
#include "projections/projections.h"
#include "pg/spi.h"
#include "pg/citus.h"

#include "errors.h"
#include "pg/boundary.h"
#include "pg/owner.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

static Oid chronicle_relid(const char *relname)
{
    Oid relid = get_relname_relid(relname, get_namespace_oid("chronicle", false));
    if (!OidIsValid(relid))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("chronicle.%s does not exist", relname)));
    return relid;
}

const char *projections_table_oid_sql(Oid catalog_relid)
{
    /*
     * By name: only a table the projection's owner owns.  A name can come to
     * mean another table (renamed away, dropped by hand, its schema renamed
     * by the schema's owner), and the observer writes the table it resolves
     * to as that table's owner: another role's table must resolve to nothing
     * (42P01 where it is used), as a table dropped by hand does.
     */
    if (get_atttype(catalog_relid, get_attnum(catalog_relid, "table_name")) == TEXTOID)
        return "(SELECT c.oid FROM pg_catalog.pg_class c"
               " WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(p.table_name)::pg_catalog.oid"
               " AND c.relowner OPERATOR(pg_catalog.=) p.owner::pg_catalog.oid)";
    return "p.table_name::pg_catalog.oid";
}

static char *arg_text(FunctionCallInfo fcinfo, int i, const char *what)
{
    if (PG_ARGISNULL(i))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, pg::format("%s must not be NULL", what));
    return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

static char *arg_name(FunctionCallInfo fcinfo)
{
    char *name = arg_text(fcinfo, 0, "name");
    if (*name == '\0' || strlen(name) > 255)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "a projection name must have 1 to 255 bytes");
    return name;
}

/*
 * Appends must not run while a projection comes or goes: an append that
 * did not see the new projection would leave its stream's row stale, one
 * that still saw a dropped one would write a table no longer kept.  A lock
 * on chronicle.events that conflicts with ROW EXCLUSIVE waits for the
 * appending transactions in flight and holds new ones back until we
 * commit; they then take their lock, which reads our invalidation, and
 * reload the projection list.  Readers are not blocked.
 */
static void hold_appends(void)
{
    /* SHARE ROW EXCLUSIVE rather than SHARE: also one define or drop at a time,
     * so that a second define of a name sees the first committed (42710). */
    LockRelationOid(chronicle_relid("events"), ShareRowExclusiveLock);
}

/* Has chronicle.distribute() sharded the store (Citus)? */
static bool store_distributed(void)
{
    return pg::citus::installed() && pg::citus::is_citus_table(chronicle_relid("streams"));
}

/*
 * On a Citus cluster (SPI connected): the same lock on every node.  Appends
 * run on the workers, where they lock their node's shell of chronicle.events
 * (events/direct.cpp); LOCK TABLE on a distributed table is taken on every
 * node's shell, in this distributed transaction, so it waits for the appends
 * in flight everywhere and holds new ones back until we commit.  As the
 * extension's owner: LOCK checks privileges, which a writer has not on the
 * table.
 */
static void hold_appends_everywhere(Oid owner)
{
    AsOwner saved;
    as_owner_begin(&saved, owner, false);
    int rc = pg::spi::execute("LOCK TABLE chronicle.events IN SHARE ROW EXCLUSIVE MODE", false, 0);
    as_owner_end(&saved);
    if (rc != SPI_OK_UTILITY)
        elog(ERROR, "chronicle: locking chronicle.events on every node failed: %s", SPI_result_code_string(rc));
}

/* One row of chronicle.projections, read as chronicle's owner. */
struct CatalogRow
{
    bool found;
    char *reducer;
    char *category; /* NULL: all streams */
    Oid relid; /* InvalidOid: no table (on a cluster: none of that name owned by owner) */
    Jsonb *columns;
    Oid owner; /* the role that defined it */
};

/* newest: read with a snapshot taken now, not the transaction's (below). */
static void catalog_read(const char *name, const char *lock, Oid owner, CatalogRow *row, bool newest)
{
    char *sql = psprintf("SELECT p.reducer, p.category, %s, p.columns, p.owner::pg_catalog.oid"
                         " FROM chronicle.projections p WHERE p.name OPERATOR(pg_catalog.=) $1 %s",
                         projections_table_oid_sql(chronicle_relid("projections")), lock);
    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(name)};
    AsOwner saved;
    as_owner_begin(&saved, owner, false);
    int rc;
    if (newest)
    {
        SPIPlanPtr plan = pg::spi::prepare(sql, 1, types);
        rc = pg::spi::execute_snapshot(plan, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
    }
    else
        rc = pg::spi::execute_with_args(sql, 1, types, values, nullptr, false, 1);
    as_owner_end(&saved);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle.projections failed: %s", SPI_result_code_string(rc));
    row->found = SPI_processed == 1;
    if (!row->found)
        return;
    HeapTuple tuple = SPI_tuptable->vals[0];
    TupleDesc desc = SPI_tuptable->tupdesc;
    bool isnull;
    row->reducer = SPI_getvalue(tuple, desc, 1);
    row->category = SPI_getvalue(tuple, desc, 2);
    row->relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 3, &isnull));
    row->columns = DatumGetJsonbPCopy(SPI_getbinval(tuple, desc, 4, &isnull));
    row->owner = DatumGetObjectId(SPI_getbinval(tuple, desc, 5, &isnull));
}

/* The same error as target_load's for a table that no longer exists. */
static void table_gone(const char *name)
{
    throw pg::Error(ERRCODE_UNDEFINED_TABLE, pg::format("the table of projection \"%s\" no longer exists", name), "",
                    pg::format("Remove the projection with chronicle.drop_projection(%s, false), then define it again.",
                               quote_literal_cstr(name)));
}

static void unknown_projection(const char *name)
{
    throw pg::Error(ERRCODE_UNDEFINED_OBJECT, pg::format("projection \"%s\" does not exist", name), "",
                    "Define it with chronicle.define_projection().");
}

/* rebuild and drop are the table owner's, as ALTER and DROP TABLE would be. */
static void check_owner(const char *name, Oid relid, const char *action)
{
    if (!pg_class_ownercheck(relid, GetUserId()))
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        pg::format("must be owner of table %s to %s projection \"%s\"",
                                   get_rel_name(relid), action, name));
}

static void run_utility(const char *sql)
{
    int rc = pg::spi::execute(sql, false, 0);
    if (rc != SPI_OK_UTILITY)
        elog(ERROR, "chronicle: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

static Datum define_projection(FunctionCallInfo fcinfo)
{
    /*
     * On a Citus cluster (docs/design/citus.md, "Projections on a cluster")
     * the table is distributed by stream_id beside chronicle.streams, so each
     * stream's row is on the node that appends to the stream, where the
     * observer writes it; the fill replays stream by stream.
     */
    bool distributed = store_distributed();
    char *name = arg_name(fcinfo);
    char *reducer = arg_text(fcinfo, 1, "reducer");
    char *table_name = arg_text(fcinfo, 2, "table_name");
    if (PG_ARGISNULL(3))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "columns must not be NULL");
    int ncols;
    ProjColumn *cols = columns_parse(PG_GETARG_JSONB_P(3), &ncols);

    /* The table name as regclass input reads it: quoted parts kept, the
     * caller's search_path deciding where an unqualified one goes. */
    RangeVar *rv = makeRangeVarFromNameList(stringToQualifiedNameList(table_name));
    Oid nsp = RangeVarGetCreationNamespace(rv);
    if (isAnyTempNamespace(nsp))
        throw pg::Error(ERRCODE_INVALID_TABLE_DEFINITION,
                        pg::format("projection \"%s\" cannot use a temporary table", name),
                        "Appends in every session keep a projection current; a temporary table is one session's.");
    if (nsp == get_namespace_oid("chronicle", false))
        throw pg::Error(ERRCODE_INVALID_TABLE_DEFINITION,
                        pg::format("projection \"%s\" cannot put its table in schema chronicle", name),
                        "Schema chronicle belongs to the extension; DROP EXTENSION would have to drop the table with it.");
    char *qualified = quote_qualified_identifier(get_namespace_name(nsp), rv->relname);
    Oid owner = pg::function_owner(fcinfo);

    hold_appends();
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    if (distributed)
        hold_appends_everywhere(owner);

    /*
     * What committed while hold_appends waited is read with a snapshot
     * taken after the wait: in REPEATABLE READ or SERIALIZABLE the
     * transaction's snapshot predates it, and would miss a define of this
     * name committed meanwhile (23505 on the insert instead of 42710) and,
     * in the fill, the appends the lock waited for (their observers ran
     * before the projection existed: their rows would stay stale).
     * projections_define_repeatable_read.spec.
     */
    CatalogRow existing;
    catalog_read(name, "", owner, &existing, true);
    if (existing.found)
        throw pg::Error(ERRCODE_DUPLICATE_OBJECT, pg::format("projection \"%s\" already exists", name), "",
                        "Drop it first with chronicle.drop_projection().");

    /* The reducer, and the category whose streams the projection covers. */
    Oid rtypes[1] = {TEXTOID};
    Datum rvalues[1] = {CStringGetTextDatum(reducer)};
    AsOwner saved;
    as_owner_begin(&saved, owner, false);
    int rc = pg::spi::execute_with_args("SELECT r.category FROM chronicle.reducers r"
                                   " WHERE r.name OPERATOR(pg_catalog.=) $1 FOR SHARE",
                                   1, rtypes, rvalues, nullptr, false, 1);
    as_owner_end(&saved);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading chronicle.reducers failed: %s", SPI_result_code_string(rc));
    if (SPI_processed == 0)
        throw pg::Error(CHRONICLE_INVALID_REDUCER, pg::format("reducer \"%s\" does not exist", reducer), "",
                        "Define it with chronicle.define_reducer().");
    char *category = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

    /* The table, with the caller's rights: an existing one is an error (42P07). */
    StringInfoData create;
    initStringInfo(&create);
    appendStringInfo(&create, "CREATE TABLE %s (stream_id pg_catalog.text PRIMARY KEY,"
                              " version pg_catalog.int8 NOT NULL", qualified);
    for (int i = 0; i < ncols; i++)
        appendStringInfo(&create, ", %s %s", quote_identifier(cols[i].name),
                         format_type_extended(cols[i].typid, cols[i].typmod,
                                              FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
    appendStringInfoChar(&create, ')');
    run_utility(create.data);
    Oid relid = get_relname_relid(rv->relname, nsp);
    if (!OidIsValid(relid))
        elog(ERROR, "chronicle: table %s was not created", qualified);
    run_utility(psprintf("COMMENT ON TABLE %s IS %s", qualified,
                         quote_literal_cstr(psprintf("chronicle projection \"%s\" (reducer \"%s\"): one row per "
                                                     "stream, kept current by every append.", name, reducer))));
    run_utility(psprintf("GRANT SELECT ON %s TO chronicle_reader", qualified));
    if (distributed)
    {
        /* The caller's new table, by the caller: sharded like the streams, colocated. */
        Oid dtypes[1] = {REGCLASSOID};
        Datum dvalues[1] = {ObjectIdGetDatum(relid)};
        rc = pg::spi::execute_with_args("SELECT pg_catalog.create_distributed_table($1, 'stream_id',"
                                        " colocate_with => 'chronicle.streams')",
                                        1, dtypes, dvalues, nullptr, false, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "chronicle: distributing table %s failed: %s", qualified, SPI_result_code_string(rc));
    }

    /*
     * Recorded as chronicle's owner.  On a cluster the row reaches the
     * workers' placements through Citus's connections of that role, which do
     * not see the table the caller's connections created there: the catalog
     * names the table by its qualified name (text), resolved on each node
     * when read (projections_table_oid_sql), never on the write.
     */
    Jsonb *catalog_columns = columns_to_catalog(cols, ncols);
    bool by_name = get_atttype(chronicle_relid("projections"),
                               get_attnum(chronicle_relid("projections"), "table_name")) == TEXTOID;
    /* The projection's owner: the caller, who created the table (it owns it). */
    Oid itypes[6] = {TEXTOID, TEXTOID, TEXTOID, static_cast<Oid>(by_name ? TEXTOID : REGCLASSOID), JSONBOID,
                     REGROLEOID};
    Datum ivalues[6] = {CStringGetTextDatum(name), CStringGetTextDatum(reducer),
                        category ? CStringGetTextDatum(category) : (Datum)0,
                        by_name ? CStringGetTextDatum(qualified) : ObjectIdGetDatum(relid),
                        JsonbPGetDatum(catalog_columns), ObjectIdGetDatum(GetUserId())};
    char inulls[6] = {' ', ' ', category ? ' ' : 'n', ' ', ' ', ' '};
    as_owner_begin(&saved, owner, false);
    rc = pg::spi::execute_with_args("INSERT INTO chronicle.projections"
                               " (name, reducer, category, table_name, columns, defined_at, owner)"
                               " VALUES ($1, $2, $3, $4, $5, pg_catalog.now(), $6)",
                               6, itypes, ivalues, inulls, false, 0);
    as_owner_end(&saved);
    if (rc != SPI_OK_INSERT)
        elog(ERROR, "chronicle: recording projection \"%s\" failed: %s", name, SPI_result_code_string(rc));
    /* Row writes send no invalidation: every backend's observer must reload. */
    CacheInvalidateRelcacheByRelid(chronicle_relid("projections"));
    projections_changed();

    ProjTarget t;
    target_load(name, relid, catalog_columns, &t);
    if (distributed)
        projection_fill_by_stream(name, reducer, category, &t, false);
    else
        projection_fill(name, reducer, category, &t, false);
    SPI_finish();
    return ObjectIdGetDatum(relid);
}

static Datum rebuild_projection(FunctionCallInfo fcinfo)
{
    char *name = arg_name(fcinfo);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    /* FOR SHARE: a concurrent drop waits for the rebuild to end. */
    CatalogRow row;
    catalog_read(name, "FOR SHARE", pg::function_owner(fcinfo), &row, false);
    if (!row.found)
        unknown_projection(name);
    /* Before any lock or statement names it: a table that is gone has no name to lock. */
    if (!get_rel_name(row.relid))
        table_gone(name);
    check_owner(name, row.relid, "rebuild");
    /*
     * EXCLUSIVE: readers go on reading the old rows until we commit, while
     * appends to the projection's streams wait to write theirs after ours
     * (their events are not in our snapshot; their row then replaces ours).
     */
    LockRelationOid(row.relid, ExclusiveLock);
    /* Again once we hold it: dropped, or given to another role (ALTER TABLE
     * ... OWNER TO) while we waited, it is not ours to rebuild as its owner
     * (isolation spec projections_table_waiter). */
    if (!get_rel_name(row.relid))
        table_gone(name);
    check_owner(name, row.relid, "rebuild");
    bool distributed = store_distributed();
    if (distributed)
    {
        /* On every node's shell (the observers' upserts lock it there); the caller owns the table. */
        int rc = pg::spi::execute(psprintf("LOCK TABLE %s IN EXCLUSIVE MODE",
                                           quote_qualified_identifier(get_namespace_name(get_rel_namespace(row.relid)),
                                                                      get_rel_name(row.relid))),
                                  false, 0);
        if (rc != SPI_OK_UTILITY)
            elog(ERROR, "chronicle: locking the table of projection \"%s\" failed: %s", name,
                 SPI_result_code_string(rc));
    }
    ProjTarget t;
    target_load(name, row.relid, row.columns, &t);
    int64 rows = distributed ? projection_fill_by_stream(name, row.reducer, row.category, &t, true)
                             : projection_fill(name, row.reducer, row.category, &t, true);
    /* Run after an upcaster or a reducer function changed: every backend
     * forgets the states it remembered (states.cpp). */
    CacheInvalidateRelcacheByRelid(chronicle_relid("projections"));
    projections_changed();
    SPI_finish();
    return Int64GetDatum(rows);
}

static Datum drop_projection(FunctionCallInfo fcinfo)
{
    char *name = arg_name(fcinfo);
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "drop_table must not be NULL");
    bool drop_table = PG_GETARG_BOOL(1);
    Oid owner = pg::function_owner(fcinfo);

    hold_appends();
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    if (store_distributed())
        hold_appends_everywhere(owner);
    CatalogRow row;
    catalog_read(name, "FOR UPDATE", owner, &row, false);
    if (!row.found)
        unknown_projection(name);
    char *relname = get_rel_name(row.relid);
    if (relname)
        check_owner(name, row.relid, "drop");
    else if (!has_privs_of_role(GetUserId(), row.owner))
    {
        /* No table to own: the projection is its owner's to remove. */
        char *who = GetUserNameFromId(row.owner, true);
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        pg::format("projection \"%s\" is owned by role %s", name,
                                   who ? quote_identifier(who) : psprintf("with OID %u", row.owner)),
                        "Its table no longer exists; only a member of the role that defined the projection may "
                        "remove it.");
    }

    Oid types[1] = {TEXTOID};
    Datum values[1] = {CStringGetTextDatum(name)};
    AsOwner saved;
    as_owner_begin(&saved, owner, false);
    int rc = pg::spi::execute_with_args("DELETE FROM chronicle.projections p WHERE p.name OPERATOR(pg_catalog.=) $1",
                                   1, types, values, nullptr, false, 0);
    as_owner_end(&saved);
    if (rc != SPI_OK_DELETE)
        elog(ERROR, "chronicle: removing projection \"%s\" failed: %s", name, SPI_result_code_string(rc));
    CacheInvalidateRelcacheByRelid(chronicle_relid("projections"));
    projections_changed();

    /*
     * With the caller's rights; objects that depend on the table (views)
     * make it fail (2BP01), as DROP TABLE without CASCADE does.  The table
     * first (level 9 of docs/design/locking.md, which the DROP takes), then
     * its name and owner as they are once we hold it: named as it was before
     * a wait, the DROP resolved the name again after it, and dropped another
     * table of that name when the projection's was renamed meanwhile
     * (isolation spec projections_table_waiter).  Dropped meanwhile: nothing
     * left to drop.
     */
    if (relname && drop_table)
    {
        LockRelationOid(row.relid, AccessExclusiveLock);
        relname = get_rel_name(row.relid);
        if (relname)
        {
            check_owner(name, row.relid, "drop");
            run_utility(psprintf("DROP TABLE %s",
                                 quote_qualified_identifier(get_namespace_name(get_rel_namespace(row.relid)), relname)));
        }
    }
    SPI_finish();
    PG_RETURN_VOID();
}

SQL_FUNCTION(chronicle_define_projection)
{
    return define_projection(fcinfo);
}

SQL_FUNCTION(chronicle_rebuild_projection)
{
    return rebuild_projection(fcinfo);
}

SQL_FUNCTION(chronicle_drop_projection)
{
    return drop_projection(fcinfo);
}
