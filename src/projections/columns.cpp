/*
 * columns.cpp: define_projection's `columns` argument, validated and
 * normalised.  A column maps to a type name ("numeric") or to
 * {"type": ..., "path": "a.b"}; type names go through PostgreSQL's own type
 * parser (parseTypeString), so nothing the user wrote is ever pasted into
 * SQL: the SQL names the resolved type by OID (format_type_extended).
 */
#include "pg/jsonb_root.h"
#include "projections/projections.h"

#include "pg/boundary.h"

extern "C" {
#include "lib/stringinfo.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
}

/* A jsonb string value as a NUL-terminated palloc'd string. */
static char *jstring(const JsonbValue *v)
{
    return pnstrdup(v->val.string.val, v->val.string.len);
}

static void parse_path(ProjColumn *c, const char *dotted)
{
    int n = 1;
    for (const char *p = dotted; *p; p++)
        n += *p == '.';
    c->path = static_cast<char **>(palloc(sizeof(char *) * n));
    c->npath = 0;
    const char *start = dotted;
    for (const char *p = dotted;; p++)
        if (*p == '.' || *p == '\0')
        {
            if (p == start)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("column \"%s\" has an invalid path \"%s\"", c->name, dotted),
                                "A path is one or more keys separated by dots, none of them empty.");
            c->path[c->npath++] = pnstrdup(start, p - start);
            if (*p == '\0')
                break;
            start = p + 1;
        }
}

static void parse_spec(ProjColumn *c, const JsonbValue *v)
{
    const char *type = nullptr;
    if (v->type == jbvString)
        type = jstring(v);
    else if (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data))
    {
        JsonbContainer *obj = v->val.binary.data;
        JsonbValue t, p;
        int known = 0;
        if (pg::jsonb_member(obj, "type", &t))
        {
            known++;
            if (t.type != jbvString)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("the \"type\" of column \"%s\" must be a string", c->name));
            type = jstring(&t);
        }
        if (pg::jsonb_member(obj, "path", &p))
        {
            known++;
            if (p.type != jbvString)
                throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                                pg::format("the \"path\" of column \"%s\" must be a string", c->name),
                                "Write a path as keys separated by dots: \"totals.in\".");
            parse_path(c, jstring(&p));
        }
        if (!type)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("column \"%s\" has no \"type\"", c->name));
        if (static_cast<int>(JsonContainerSize(obj)) != known)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("column \"%s\" has an unknown key", c->name),
                            "A column is a type name or an object with \"type\" and, optionally, \"path\".");
    }
    else
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("column \"%s\" must map to a type name or to {\"type\": ..., \"path\": ...}",
                                   c->name));

    if (*type == '\0')
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("column \"%s\" has an empty type", c->name));
    c->type = const_cast<char *>(type);
    /* The parser's errors (42601 syntax, 42704 unknown type) are the user's answer. */
    Oid typid = InvalidOid;
    int32 typmod = -1;
    ErrorData *failed = nullptr;
    try
    {
        pg::guard([&] { parseTypeString(type, &typid, &typmod, false); });
    }
    catch (const pg::PgError &e)
    {
        failed = e.data();
    }
    if (failed)
    {
        /* Positions point into the type name, not into the caller's query. */
        failed->message = psprintf("column \"%s\": %s", c->name, failed->message ? failed->message : "bad type");
        failed->cursorpos = 0;
        failed->context = nullptr;
        throw pg::PgError(failed);
    }
    c->typid = typid;
    c->typmod = typmod;
    if (!c->path)
    {
        /* The state key of the same name, taken whole (a dot in it is no path). */
        c->path = static_cast<char **>(palloc(sizeof(char *)));
        c->path[0] = c->name;
        c->npath = 1;
    }
}

ProjColumn *columns_parse(Jsonb *columns, int *ncols)
{
    if (!JB_ROOT_IS_OBJECT(columns) || JB_ROOT_IS_SCALAR(columns))
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "columns must be a JSON object",
                        "Map each column name to a type: {\"owner\": \"text\", \"balance\": \"numeric\"}.");
    int n = JB_ROOT_COUNT(columns);
    ProjColumn *cols = static_cast<ProjColumn *>(palloc0(sizeof(ProjColumn) * Max(n, 1)));
    JsonbIterator *it = JsonbIteratorInit(&columns->root);
    JsonbValue k, v;
    int i = 0;
    while (pg::jsonb_next_member(&it, &k, &v))
    {
        ProjColumn *c = &cols[i];
        c->name = jstring(&k);
        if (*c->name == '\0')
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "a column name must not be empty");
        if (strlen(c->name) >= NAMEDATALEN)
            throw pg::Error(ERRCODE_NAME_TOO_LONG,
                            pg::format("column name \"%s\" is too long", c->name),
                            pg::format("PostgreSQL names have at most %d bytes.", NAMEDATALEN - 1));
        if (strcmp(c->name, "stream_id") == 0 || strcmp(c->name, "version") == 0)
            throw pg::Error(ERRCODE_DUPLICATE_COLUMN,
                            pg::format("column \"%s\" is reserved for the projection itself", c->name),
                            "Every projection table has stream_id and version; name the state's column differently "
                            "and point it at the key with {\"type\": ..., \"path\": \"version\"}.");
        parse_spec(&cols[i++], &v);
    }
    *ncols = i;
    return cols;
}

Jsonb *columns_to_catalog(const ProjColumn *cols, int ncols)
{
    StringInfoData buf;
    initStringInfo(&buf);
    appendStringInfoChar(&buf, '[');
    for (int i = 0; i < ncols; i++)
    {
        const ProjColumn *c = &cols[i];
        appendStringInfoString(&buf, i ? ", {\"name\": " : "{\"name\": ");
        escape_json(&buf, c->name);
        appendStringInfoString(&buf, ", \"type\": ");
        escape_json(&buf, format_type_with_typemod(c->typid, c->typmod));
        appendStringInfoString(&buf, ", \"path\": [");
        for (int k = 0; k < c->npath; k++)
        {
            if (k)
                appendStringInfoString(&buf, ", ");
            escape_json(&buf, c->path[k]);
        }
        appendStringInfoString(&buf, "]}");
    }
    appendStringInfoChar(&buf, ']');
    return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
