/*
 * target.cpp: a projection's table as SQL, and the one-pass fill that
 * define_projection and rebuild_projection share.
 *
 * The observer and the fill turn the state into column values with the same
 * expression, so a stream's row is the same whichever wrote it:
 *   (state #>> path)::type   for every type but json and jsonb, whose
 *   (state #> path)::type    keep the JSON value itself;
 * a missing key or a JSON null gives SQL NULL.  The cast names the base type
 * without its modifier; the column's own modifier is then applied by the
 * INSERT's assignment, exactly as for a plain INSERT (varchar(3) rejects a
 * longer string instead of truncating it).  A value the type does not
 * accept raises the type's own error, which fails the append (docs/design/projections.md, "Conversion").
 */
#include "pg/jsonb_root.h"
#include "pg/spi.h"
#include "projections/projections.h"
#include "replay/replay.h"

#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

void as_owner_begin(AsOwner *s, Oid owner, bool restricted)
{
    GetUserIdAndSecContext(&s->saved_user, &s->saved_context);
    int context = s->saved_context | SECURITY_LOCAL_USERID_CHANGE;
    if (restricted)
        context |= SECURITY_RESTRICTED_OPERATION;
    s->guc_level = pg::spi::sandbox_begin();
    SetUserIdAndSecContext(owner, context);
}

void as_owner_end(AsOwner *s)
{
    SetUserIdAndSecContext(s->saved_user, s->saved_context);
    if (s->guc_level >= 0)
        pg::spi::sandbox_end(s->guc_level);
    s->guc_level = -1;
}

static Datum path_array(Jsonb *path)
{
    int n = JB_ROOT_COUNT(path);
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * Max(n, 1)));
    JsonbIterator *it = JsonbIteratorInit(&path->root);
    JsonbValue v;
    int i = 0;
    while (pg::jsonb_next_element(&it, &v))
        if (v.type == jbvString && i < n)
            elems[i++] = PointerGetDatum(cstring_to_text_with_len(v.val.string.val, v.val.string.len));
    return PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false, TYPALIGN_INT));
}

void target_load(const char *name, Oid relid, Jsonb *catalog_columns, ProjTarget *t)
{
    char *relname = get_rel_name(relid);
    if (!relname)
        throw pg::Error(ERRCODE_UNDEFINED_TABLE,
                        pg::format("the table of projection \"%s\" no longer exists", name), "",
                        pg::format("Remove the projection with chronicle.drop_projection(%s, false), "
                                   "then define it again.", quote_literal_cstr(name)));
    /* Held to the end of the transaction, as the executor would. */
    Relation rel = table_open(relid, AccessShareLock);
    TupleDesc desc = RelationGetDescr(rel);
    t->relid = relid;
    t->owner = rel->rd_rel->relowner;
    t->table_sql = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                              RelationGetRelationName(rel));
    int n = JB_ROOT_COUNT(catalog_columns);
    t->ncols = 0;
    t->col_sql = static_cast<char **>(palloc(sizeof(char *) * Max(n, 1)));
    t->cast_sql = static_cast<char **>(palloc(sizeof(char *) * Max(n, 1)));
    t->as_json = static_cast<bool *>(palloc(sizeof(bool) * Max(n, 1)));
    t->paths = static_cast<Datum *>(palloc(sizeof(Datum) * Max(n, 1)));

    JsonbIterator *it = JsonbIteratorInit(&catalog_columns->root);
    JsonbValue v;
    while (pg::jsonb_next_element(&it, &v))
    {
        if (v.type != jbvBinary || t->ncols >= n)
            continue;
        JsonbValue colname, path;
        if (!pg::jsonb_member(v.val.binary.data, "name", &colname) || colname.type != jbvString ||
            !pg::jsonb_member(v.val.binary.data, "path", &path) || path.type != jbvBinary)
        {
            table_close(rel, NoLock);
            throw pg::Error(ERRCODE_DATA_CORRUPTED,
                            pg::format("projection \"%s\" has a malformed column list in chronicle.projections", name));
        }
        char *col = pnstrdup(colname.val.string.val, colname.val.string.len);
        Form_pg_attribute att = nullptr;
        for (int a = 0; a < desc->natts; a++)
        {
            Form_pg_attribute cand = TupleDescAttr(desc, a);
            if (!cand->attisdropped && strcmp(NameStr(cand->attname), col) == 0)
            {
                att = cand;
                break;
            }
        }
        if (!att)
        {
            char *table = pstrdup(t->table_sql);
            table_close(rel, NoLock);
            throw pg::Error(ERRCODE_UNDEFINED_COLUMN,
                            pg::format("table %s of projection \"%s\" has no column \"%s\"", table, name, col),
                            "", "A projection's columns must keep their names; rename it back, or drop and define the projection again.");
        }
        int i = t->ncols++;
        t->col_sql[i] = const_cast<char *>(quote_identifier(col));
        Oid base = getBaseType(att->atttypid);
        t->as_json[i] = base == JSONOID || base == JSONBOID;
        t->cast_sql[i] = format_type_extended(att->atttypid, -1, FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY);
        Jsonb *path_jsonb = JsonbValueToJsonb(&path);
        t->paths[i] = path_array(path_jsonb);
    }
    table_close(rel, NoLock);
}

char *target_values_sql(const ProjTarget *t, const char *state_expr, int first_param)
{
    StringInfoData buf;
    initStringInfo(&buf);
    for (int i = 0; i < t->ncols; i++)
        appendStringInfo(&buf, ", (%s OPERATOR(pg_catalog.%s) $%d)::%s", state_expr,
                         t->as_json[i] ? "#>" : "#>>", first_param + i, t->cast_sql[i]);
    return buf.data;
}

static void append_column_list(StringInfo buf, const ProjTarget *t)
{
    appendStringInfoString(buf, "(stream_id, version");
    for (int i = 0; i < t->ncols; i++)
        appendStringInfo(buf, ", %s", t->col_sql[i]);
    appendStringInfoChar(buf, ')');
}

char *target_upsert_sql(const ProjTarget *t)
{
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfo(&buf, "INSERT INTO %s AS p ", t->table_sql);
    append_column_list(&buf, t);
    appendStringInfo(&buf, " VALUES ($1, $2%s)", target_values_sql(t, "$3", 4));
    appendStringInfoString(&buf, " ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version");
    for (int i = 0; i < t->ncols; i++)
        appendStringInfo(&buf, ", %s = EXCLUDED.%s", t->col_sql[i], t->col_sql[i]);
    return buf.data;
}

Oid *target_upsert_types(const ProjTarget *t)
{
    Oid *types = static_cast<Oid *>(palloc(sizeof(Oid) * (3 + t->ncols)));
    types[0] = TEXTOID;
    types[1] = INT8OID;
    types[2] = JSONBOID;
    for (int i = 0; i < t->ncols; i++)
        types[3 + i] = TEXTARRAYOID;
    return types;
}

void projection_error(ErrorData *edata, const char *what)
{
    edata->message = psprintf("%s: %s", what, edata->message ? edata->message : "error");
    /* The statement is ours, not the user's: its text and position say nothing to them. */
    edata->context = nullptr;
    edata->internalquery = nullptr;
    edata->internalpos = 0;
    throw pg::PgError(edata);
}

void projection_rewritten(const char *name, const ProjTarget *t, int rc)
{
    /* SPI_OK_INSERT / SPI_OK_DELETE is the only answer from our own
     * statement; anything else means a rule (DO INSTEAD) on the table made it
     * another statement, or none, and the row was not written.  PostgreSQL
     * refuses ON CONFLICT on a table with INSERT rules with 0A000; so do we,
     * instead of an internal error. */
    throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                    pg::format("projection \"%s\" cannot write table %s: a rule rewrites its statement (%s)", name,
                               t->table_sql, SPI_result_code_string(rc)),
                    "", "A projection's table must have no DO INSTEAD rules; drop them, then rebuild the projection.");
}

int64 projection_fill(const char *name, const char *reducer, const char *category,
                      const ProjTarget *t, bool delete_first)
{
    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "INSERT INTO %s ", t->table_sql);
    append_column_list(&sql, t);
    /*
     * One pass over the log: fold's state per stream, in version order.  The
     * category is the part of stream_id before the first '-', the
     * expression events_category_log_idx indexes.
     */
    appendStringInfo(&sql,
                     " SELECT f.stream_id, f.version%s FROM ("
                     "SELECT e.stream_id, pg_catalog.max(e.version) AS version,"
                     " chronicle.fold($1, e ORDER BY e.version) AS state"
                     " FROM chronicle.events e%s GROUP BY e.stream_id) f",
                     target_values_sql(t, "f.state", 3),
                     category ? " WHERE pg_catalog.split_part(e.stream_id, '-', 1) OPERATOR(pg_catalog.=) $2" : "");
    int nargs = 2 + t->ncols;
    Oid *types = static_cast<Oid *>(palloc(sizeof(Oid) * nargs));
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * nargs));
    char *nulls = static_cast<char *>(palloc(nargs));
    types[0] = TEXTOID;
    values[0] = CStringGetTextDatum(reducer);
    nulls[0] = ' ';
    types[1] = TEXTOID;
    values[1] = category ? CStringGetTextDatum(category) : (Datum)0;
    nulls[1] = category ? ' ' : 'n';
    for (int i = 0; i < t->ncols; i++)
    {
        types[2 + i] = TEXTARRAYOID;
        values[2 + i] = t->paths[i];
        nulls[2 + i] = ' ';
    }

    /* The table owner's rights, restricted: the definer's types and
     * triggers never run with anyone else's (docs/design/projections.md, "Privileges"). */
    AsOwner saved;
    as_owner_begin(&saved, t->owner, true);
    if (delete_first)
    {
        char *del = psprintf("DELETE FROM %s", t->table_sql);
        int rc = pg::spi::execute(del, false, 0);
        if (rc != SPI_OK_DELETE)
        {
            as_owner_end(&saved);
            projection_rewritten(name, t, rc);
        }
    }
    int rc = 0;
    ErrorData *failed = nullptr;
    try
    {
        rc = pg::guard([&] {
            if (delete_first)
                return pg::spi::execute_with_args(sql.data, nargs, types, values, nulls, false, 0);
            /* define: the new table's fill reads the log with a snapshot
             * taken after hold_appends' wait, whatever the isolation level
             * (define.cpp). */
            SPIPlanPtr plan = pg::spi::prepare(sql.data, nargs, types);
            return pg::spi::execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
        });
    }
    catch (const pg::PgError &e)
    {
        failed = e.data();
    }
    if (failed)
    {
        as_owner_end(&saved);
        projection_error(failed, psprintf("projection \"%s\" cannot be filled", name));
    }
    as_owner_end(&saved);
    if (rc != SPI_OK_INSERT)
        projection_rewritten(name, t, rc);
    int64 rows = static_cast<int64>(SPI_processed);
    return rows;
}

int64 projection_fill_by_stream(const char *name, const char *reducer, const char *category,
                                const ProjTarget *t, bool delete_first)
{
    /* The table owner's rights, restricted, as projection_fill. */
    AsOwner saved;
    as_owner_begin(&saved, t->owner, true);
    if (delete_first)
    {
        int rc = pg::spi::execute(psprintf("DELETE FROM %s", t->table_sql), false, 0);
        if (rc != SPI_OK_DELETE)
        {
            as_owner_end(&saved);
            projection_rewritten(name, t, rc);
        }
    }

    /* The streams the projection covers (the category is the streams' column). */
    Oid stypes[1] = {TEXTOID};
    Datum svalues[1] = {category ? CStringGetTextDatum(category) : (Datum)0};
    int rc = pg::spi::execute_with_args(category ? "SELECT s.stream_id FROM chronicle.streams s"
                                                   " WHERE s.category OPERATOR(pg_catalog.=) $1"
                                                 : "SELECT s.stream_id FROM chronicle.streams s",
                                        category ? 1 : 0, stypes, svalues, nullptr, true, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading the streams of projection \"%s\" failed: %s", name,
             SPI_result_code_string(rc));
    int64 nstreams = static_cast<int64>(SPI_processed);
    Datum *streams = static_cast<Datum *>(palloc(sizeof(Datum) * Max(nstreams, 1)));
    for (int64 i = 0; i < nstreams; i++)
    {
        bool isnull;
        Datum d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
        streams[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
    }
    SPI_freetuptable(SPI_tuptable);

    int nargs = 3 + t->ncols;
    SPIPlanPtr upsert = pg::spi::prepare(target_upsert_sql(t), nargs, target_upsert_types(t));
    Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * nargs));
    char *nulls = static_cast<char *>(palloc(nargs));
    for (int i = 0; i < t->ncols; i++)
    {
        values[3 + i] = t->paths[i];
        nulls[3 + i] = ' ';
    }
    MemoryContext per_stream = AllocSetContextCreate(CurrentMemoryContext, "chronicle projection fill",
                                                     ALLOCSET_DEFAULT_SIZES);
    int64 rows = 0;
    for (int64 i = 0; i < nstreams; i++)
    {
        CHECK_FOR_INTERRUPTS();
        MemoryContext old = MemoryContextSwitchTo(per_stream);
        text *stream = DatumGetTextPP(streams[i]);
        ReplayBounds all{};
        ReplayResult state{};
        /* As the observer replays (observer.cpp): a function reducer runs as its owner. */
        replay_stream(stream, reducer, &all, &state, REDUCER_AS_FUNCTION_OWNER);
        values[0] = PointerGetDatum(stream);
        values[1] = Int64GetDatum(state.version);
        values[2] = state.state ? JsonbPGetDatum(state.state) : (Datum)0;
        nulls[0] = nulls[1] = ' ';
        nulls[2] = state.state ? ' ' : 'n';
        ErrorData *failed = nullptr;
        try
        {
            rc = pg::guard([&] { return pg::spi::execute_plan(upsert, values, nulls, false, 0); });
        }
        catch (const pg::PgError &e)
        {
            failed = e.data();
        }
        MemoryContextSwitchTo(old);
        if (failed)
        {
            as_owner_end(&saved);
            projection_error(failed, psprintf("projection \"%s\" cannot be filled", name));
        }
        if (rc != SPI_OK_INSERT)
        {
            as_owner_end(&saved);
            projection_rewritten(name, t, rc);
        }
        rows++;
        MemoryContextReset(per_stream);
    }
    MemoryContextDelete(per_stream);
    as_owner_end(&saved);
    return rows;
}
