/*
 * schema.cpp: compiling a JSON-Schema subset into SchemaNode trees, and
 * checking event data against them (see schema.h).
 *
 * The two entry points run the work under one pg::guard(): below it, frames
 * hold only plain values and palloc'd memory, so a PostgreSQL error may
 * longjmp across them, and domain errors are thrown as pg::Error built from a
 * palloc'd message.
 */
#include "types/schema.h"

#include "errors.h"

extern "C" {
#include "catalog/pg_collation_d.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
}

namespace types {

namespace {

/* ---------------------------------------------------------------- helpers */

int numeric_compare(Numeric a, Numeric b)
{
    return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

bool numeric_integral(Numeric n)
{
    return DatumGetInt32(DirectFunctionCall1(numeric_min_scale, NumericGetDatum(n))) == 0;
}

const char *numeric_text(Numeric n)
{
    return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

Numeric numeric_copy(Numeric n)
{
    Numeric copy = static_cast<Numeric>(palloc(VARSIZE(n)));
    memcpy(copy, n, VARSIZE(n));
    return copy;
}

/* Jsonb orders object keys by length, then bytes; properties follow suit. */
int key_compare(const char *a, int alen, const char *b, int blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* Append a key to a JSON path: `.key` for identifiers, `["k e y"]` otherwise. */
void append_key(StringInfo path, const char *key, int len)
{
    bool plain = len > 0 && !(key[0] >= '0' && key[0] <= '9');
    for (int i = 0; plain && i < len; i++)
        plain = key[i] == '_' || (key[i] >= 'a' && key[i] <= 'z') ||
                (key[i] >= 'A' && key[i] <= 'Z') || (key[i] >= '0' && key[i] <= '9');
    if (plain)
    {
        appendStringInfoChar(path, '.');
        appendBinaryStringInfo(path, key, len);
    }
    else
    {
        appendStringInfoChar(path, '[');
        escape_json(path, pnstrdup(key, len));
        appendStringInfoChar(path, ']');
    }
}

/* Throw SE003 with a palloc'd message (no C++ object is alive before the throw). */
[[noreturn]] void throw_invalid(const char *message)
{
    throw pg::Error(CHRONICLE_INVALID_EVENT, message);
}

/* --------------------------------------------------------------- compiling */

struct Compiler
{
    const char *what;
    StringInfo path; /* JSON path into the schema, for error messages */
    RegexHolder *regexes;
};

[[noreturn]] void schema_error(Compiler &c, const char *fmt, const char *arg = nullptr)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid schema for %s at %s: ", c.what, c.path->data);
    appendStringInfo(&msg, fmt, arg);
    throw_invalid(msg.data);
}

bool is_string(const JsonbValue &v)
{
    return v.type == jbvString;
}

bool is_container(const JsonbValue &v, bool object)
{
    return v.type == jbvBinary &&
           (object ? JsonContainerIsObject(v.val.binary.data) : JsonContainerIsArray(v.val.binary.data));
}

/* Walk the elements of an array value, calling fn(element, index). */
template <typename Fn>
void each_element(const JsonbValue &array, Fn &&fn)
{
    JsonbIterator *it = JsonbIteratorInit(array.val.binary.data);
    JsonbValue v;
    JsonbIteratorToken tok;
    int index = 0;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
        if (tok == WJB_ELEM)
            fn(v, index++);
}

uint16 type_bit(const JsonbValue &v)
{
    static const struct
    {
        const char *name;
        uint16 bit;
    } names[] = {{"null", T_NULL},     {"boolean", T_BOOLEAN}, {"object", T_OBJECT},
                 {"array", T_ARRAY},   {"number", T_NUMBER},   {"integer", T_INTEGER},
                 {"string", T_STRING}};
    for (const auto &n : names)
        if (key_compare(v.val.string.val, v.val.string.len, n.name, strlen(n.name)) == 0)
            return n.bit;
    return 0;
}

int enum_order(const void *a, const void *b)
{
    return compareJsonbContainers(&(*static_cast<Jsonb *const *>(a))->root,
                                  &(*static_cast<Jsonb *const *>(b))->root);
}

Numeric number_keyword(Compiler &c, const JsonbValue &v)
{
    if (v.type != jbvNumeric)
        schema_error(c, "must be a number");
    return numeric_copy(v.val.numeric);
}

int32 length_keyword(Compiler &c, const JsonbValue &v)
{
    bool overflow = false;
    if (v.type != jbvNumeric || !numeric_integral(v.val.numeric))
        schema_error(c, "must be a non-negative integer");
    int32 n = numeric_int4_opt_error(v.val.numeric, &overflow);
    if (overflow || n < 0)
        schema_error(c, "must be a non-negative integer no greater than 2147483647");
    return n;
}

void compile_pattern(Compiler &c, SchemaNode *node, const JsonbValue &v)
{
    if (!is_string(v))
        schema_error(c, "must be a string");
    const char *src = pnstrdup(v.val.string.val, v.val.string.len);
    pg_wchar *wide = static_cast<pg_wchar *>(MemoryContextAllocHuge(
        CurrentMemoryContext, (static_cast<Size>(v.val.string.len) + 1) * sizeof(pg_wchar)));
    int wlen = pg_mb2wchar_with_len(src, wide, v.val.string.len);

    RegexHolder *holder = static_cast<RegexHolder *>(palloc0(sizeof(RegexHolder)));
    int rc = pg_regcomp(&holder->re, wide, wlen, REG_ADVANCED, DEFAULT_COLLATION_OID);
    if (rc != REG_OKAY)
    {
        char reason[256];
        pg_regerror(rc, &holder->re, reason, sizeof(reason));
        schema_error(c, "invalid regular expression: %s", reason);
    }
    holder->next = c.regexes;
    c.regexes = holder;
    node->pattern = &holder->re;
    node->pattern_source = src;
}

SchemaNode *compile_node(Compiler &c, const JsonbValue &v, int depth);

/* Compile sub-schema v found under path suffix (key, or index when key is NULL). */
SchemaNode *compile_child(Compiler &c, const JsonbValue &v, int depth, const char *key, int keylen,
                          int index = -1)
{
    int saved = c.path->len;
    if (key)
        append_key(c.path, key, keylen);
    else if (index >= 0)
        appendStringInfo(c.path, "[%d]", index);
    SchemaNode *child = compile_node(c, v, depth + 1);
    c.path->len = saved;
    c.path->data[saved] = '\0';
    return child;
}

void compile_keyword(Compiler &c, SchemaNode *node, const JsonbValue &key, const JsonbValue &v,
                     int depth)
{
    const char *k = key.val.string.val;
    int klen = key.val.string.len;
    auto is = [&](const char *name) { return key_compare(k, klen, name, strlen(name)) == 0; };

    if (is("type"))
    {
        if (is_string(v))
        {
            node->type_mask = type_bit(v);
            if (!node->type_mask)
                schema_error(c, "unknown type \"%s\"", pnstrdup(v.val.string.val, v.val.string.len));
        }
        else if (is_container(v, false))
        {
            each_element(v, [&](const JsonbValue &e, int) {
                uint16 bit = is_string(e) ? type_bit(e) : 0;
                if (!bit)
                    schema_error(c, "must be a type name or an array of type names");
                if (node->type_mask & bit)
                    schema_error(c, "names type \"%s\" twice", pnstrdup(e.val.string.val, e.val.string.len));
                node->type_mask |= bit;
            });
            if (!node->type_mask)
                schema_error(c, "must not be an empty array");
        }
        else
            schema_error(c, "must be a type name or an array of type names");
    }
    else if (is("properties"))
    {
        if (!is_container(v, true))
            schema_error(c, "must be an object of schemas");
        JsonbContainer *obj = v.val.binary.data;
        int n = JsonContainerSize(obj);
        node->properties = static_cast<Property *>(palloc0(sizeof(Property) * Max(n, 1)));
        JsonbIterator *it = JsonbIteratorInit(obj);
        JsonbValue pk, pv;
        JsonbIteratorToken tok;
        /* Jsonb yields keys in its own sorted order, which lookups rely on. */
        while ((tok = JsonbIteratorNext(&it, &pk, true)) != WJB_DONE)
        {
            if (tok != WJB_KEY)
                continue;
            Property &p = node->properties[node->nproperties++];
            p.name = pnstrdup(pk.val.string.val, pk.val.string.len);
            p.name_len = pk.val.string.len;
            JsonbIteratorNext(&it, &pv, true);
            p.schema = compile_child(c, pv, depth, p.name, p.name_len);
        }
    }
    else if (is("required"))
    {
        if (!is_container(v, false))
            schema_error(c, "must be an array of property names");
        int n = JsonContainerSize(v.val.binary.data);
        node->required = static_cast<Property *>(palloc0(sizeof(Property) * Max(n, 1)));
        each_element(v, [&](const JsonbValue &e, int) {
            if (!is_string(e))
                schema_error(c, "must be an array of property names");
            for (int i = 0; i < node->nrequired; i++)
                if (key_compare(node->required[i].name, node->required[i].name_len, e.val.string.val,
                                e.val.string.len) == 0)
                    schema_error(c, "names property \"%s\" twice",
                                 pnstrdup(e.val.string.val, e.val.string.len));
            Property &p = node->required[node->nrequired++];
            p.name = pnstrdup(e.val.string.val, e.val.string.len);
            p.name_len = e.val.string.len;
        });
    }
    else if (is("additionalProperties"))
    {
        if (v.type != jbvBool)
            schema_error(c, "only true or false are supported");
        node->no_additional = !v.val.boolean;
    }
    else if (is("items"))
    {
        if (is_container(v, false))
            schema_error(c, "must be a single schema (arrays of schemas are not supported)");
        node->items = compile_child(c, v, depth, nullptr, 0, -1);
    }
    else if (is("enum"))
    {
        if (!is_container(v, false) || JsonContainerSize(v.val.binary.data) == 0)
            schema_error(c, "must be a non-empty array");
        node->enum_values =
            static_cast<Jsonb **>(palloc(sizeof(Jsonb *) * JsonContainerSize(v.val.binary.data)));
        each_element(v, [&](const JsonbValue &e, int) {
            JsonbValue copy = e;
            node->enum_values[node->nenum++] = JsonbValueToJsonb(&copy);
        });
        /* jsonb's own total order (the one its btree uses), so a check is a binary search. */
        qsort(node->enum_values, node->nenum, sizeof(Jsonb *), enum_order);
    }
    else if (is("minimum"))
        node->minimum = number_keyword(c, v);
    else if (is("maximum"))
        node->maximum = number_keyword(c, v);
    else if (is("exclusiveMinimum"))
        node->exclusive_minimum = number_keyword(c, v);
    else if (is("exclusiveMaximum"))
        node->exclusive_maximum = number_keyword(c, v);
    else if (is("minLength"))
        node->min_length = length_keyword(c, v);
    else if (is("maxLength"))
        node->max_length = length_keyword(c, v);
    else if (is("pattern"))
        compile_pattern(c, node, v);
    else if (is("format"))
    {
        if (!is_string(v))
            schema_error(c, "must be a string");
        const char *f = pnstrdup(v.val.string.val, v.val.string.len);
        if (strcmp(f, "date") == 0)
            node->format = F_DATE;
        else if (strcmp(f, "date-time") == 0)
            node->format = F_DATE_TIME;
        else if (strcmp(f, "uuid") == 0)
            node->format = F_UUID;
        else if (strcmp(f, "email") == 0)
            node->format = F_EMAIL;
        else
            schema_error(c, "unknown format \"%s\" (supported: date, date-time, uuid, email)", f);
    }
    else if (is("title") || is("description") || is("$schema") || is("$id") || is("$comment") ||
             is("default") || is("examples") || is("deprecated") || is("readOnly") || is("writeOnly"))
    {
        /* Annotations: accepted and ignored, as JSON Schema does. */
    }
    else
    {
        /* An unknown validation keyword ignored silently would let a typo
         * ("minimun") or an unsupported rule ("oneOf") accept anything. */
        schema_error(c, "unsupported keyword \"%s\"", pnstrdup(k, klen));
    }
}

SchemaNode *compile_node(Compiler &c, const JsonbValue &v, int depth)
{
    check_stack_depth();
    SchemaNode *node = static_cast<SchemaNode *>(palloc0(sizeof(SchemaNode)));
    node->min_length = node->max_length = -1;
    if (v.type == jbvBool)
    {
        node->reject_all = !v.val.boolean;
        return node;
    }
    if (!is_container(v, true))
        schema_error(c, "a schema must be a JSON object or a boolean");
    if (depth > max_schema_depth)
    {
        char limit[16];
        snprintf(limit, sizeof(limit), "%d", max_schema_depth);
        schema_error(c, "schemas nest deeper than %s levels", limit);
    }

    JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue key, value;
    JsonbIteratorToken tok;
    while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
    {
        if (tok != WJB_KEY)
            continue;
        JsonbIteratorNext(&it, &value, true);
        int saved = c.path->len;
        append_key(c.path, key.val.string.val, key.val.string.len);
        compile_keyword(c, node, key, value, depth);
        c.path->len = saved;
        c.path->data[saved] = '\0';
    }
    return node;
}

/* ----------------------------------------------------------------- checking */

struct Checker
{
    const char *what;
    StringInfoData path;
};

[[noreturn]] void data_error(Checker &c, const char *rule, const char *fmt, const char *arg = nullptr)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid event %s at %s: %s: ", c.what, c.path.data, rule);
    appendStringInfo(&msg, fmt, arg);
    throw_invalid(msg.data);
}

/* The JSON type of v for messages; numbers say "integer" when they are one. */
uint16 value_bit(const JsonbValue &v)
{
    switch (v.type)
    {
    case jbvNull:
        return T_NULL;
    case jbvBool:
        return T_BOOLEAN;
    case jbvString:
        return T_STRING;
    case jbvNumeric:
        return numeric_integral(v.val.numeric) ? (T_INTEGER | T_NUMBER) : T_NUMBER;
    case jbvBinary:
        return JsonContainerIsObject(v.val.binary.data) ? T_OBJECT : T_ARRAY;
    default:
        return 0;
    }
}

/* Does v have one of the types in mask?  (Integrality is only computed when it matters.) */
bool type_matches(uint16 mask, const JsonbValue &v)
{
    if (v.type == jbvNumeric)
        return (mask & T_NUMBER) || ((mask & T_INTEGER) && numeric_integral(v.val.numeric));
    return (mask & value_bit(v)) != 0;
}

const char *type_list(uint16 mask)
{
    static const char *names[] = {"null", "boolean", "object", "array", "number", "integer", "string"};
    StringInfoData out;
    initStringInfo(&out);
    for (int i = 0; i < 7; i++)
        if (mask & (1 << i))
            appendStringInfo(&out, "%s%s", out.len ? " or " : "", names[i]);
    return out.data;
}

void check_node(Checker &c, const SchemaNode *n, const JsonbValue &v);

void check_child(Checker &c, const SchemaNode *n, const JsonbValue &v, const char *key, int keylen,
                 int index)
{
    int saved = c.path.len;
    if (key)
        append_key(&c.path, key, keylen);
    else
        appendStringInfo(&c.path, "[%d]", index);
    check_node(c, n, v);
    c.path.len = saved;
    c.path.data[saved] = '\0';
}

void check_number(Checker &c, const SchemaNode *n, Numeric x)
{
    if (n->minimum && numeric_compare(x, n->minimum) < 0)
        data_error(c, "minimum", "must be >= %s", numeric_text(n->minimum));
    if (n->maximum && numeric_compare(x, n->maximum) > 0)
        data_error(c, "maximum", "must be <= %s", numeric_text(n->maximum));
    if (n->exclusive_minimum && numeric_compare(x, n->exclusive_minimum) <= 0)
        data_error(c, "exclusiveMinimum", "must be > %s", numeric_text(n->exclusive_minimum));
    if (n->exclusive_maximum && numeric_compare(x, n->exclusive_maximum) >= 0)
        data_error(c, "exclusiveMaximum", "must be < %s", numeric_text(n->exclusive_maximum));
}

void check_string(Checker &c, const SchemaNode *n, const char *s, int len)
{
    if (n->min_length >= 0 || n->max_length >= 0)
    {
        int chars = pg_mbstrlen_with_len(s, len);
        char limit[32];
        if (n->min_length >= 0 && chars < n->min_length)
        {
            snprintf(limit, sizeof(limit), "%d character%s", n->min_length, n->min_length == 1 ? "" : "s");
            data_error(c, "minLength", "must be at least %s long", limit);
        }
        if (n->max_length >= 0 && chars > n->max_length)
        {
            snprintf(limit, sizeof(limit), "%d character%s", n->max_length, n->max_length == 1 ? "" : "s");
            data_error(c, "maxLength", "must be at most %s long", limit);
        }
    }
    if (n->pattern)
    {
        /* A jsonb string may be 256 MB: its wide form can pass palloc's 1 GB limit. */
        pg_wchar *wide = static_cast<pg_wchar *>(
            MemoryContextAllocHuge(CurrentMemoryContext, (static_cast<Size>(len) + 1) * sizeof(pg_wchar)));
        int wlen = pg_mb2wchar_with_len(s, wide, len);
        int rc = pg_regexec(const_cast<regex_t *>(n->pattern), wide, wlen, 0, nullptr, 0, nullptr, 0);
        pfree(wide);
        if (rc == REG_NOMATCH)
            data_error(c, "pattern", "does not match \"%s\"", n->pattern_source);
        if (rc != REG_OKAY)
        {
            char reason[256];
            pg_regerror(rc, n->pattern, reason, sizeof(reason));
            StringInfoData msg;
            initStringInfo(&msg);
            appendStringInfo(&msg, "regular expression failed: %s", reason);
            throw pg::Error(ERRCODE_INVALID_REGULAR_EXPRESSION, msg.data);
        }
    }
    switch (n->format)
    {
    case F_NONE:
        break;
    case F_DATE:
        if (!is_date(s, len))
            data_error(c, "format", "not a valid date (YYYY-MM-DD)");
        break;
    case F_DATE_TIME:
        if (!is_date_time(s, len))
            data_error(c, "format", "not a valid date-time (RFC 3339)");
        break;
    case F_UUID:
        if (!is_uuid(s, len))
            data_error(c, "format", "not a valid uuid");
        break;
    case F_EMAIL:
        if (!is_email(s, len))
            data_error(c, "format", "not a valid email address");
        break;
    }
}

const Property *find_property(const SchemaNode *n, const char *key, int len)
{
    int lo = 0, hi = n->nproperties - 1;
    while (lo <= hi)
    {
        int mid = (lo + hi) / 2;
        int cmp = key_compare(n->properties[mid].name, n->properties[mid].name_len, key, len);
        if (cmp == 0)
            return &n->properties[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return nullptr;
}

void check_object(Checker &c, const SchemaNode *n, JsonbContainer *obj)
{
    JsonbValue found;
    for (int i = 0; i < n->nrequired; i++)
    {
        const Property &r = n->required[i];
        if (!getKeyJsonValueFromContainer(obj, r.name, r.name_len, &found))
        {
            append_key(&c.path, r.name, r.name_len);
            data_error(c, "required", "property is missing");
        }
    }
    for (int i = 0; i < n->nproperties; i++)
    {
        const Property &p = n->properties[i];
        if (getKeyJsonValueFromContainer(obj, p.name, p.name_len, &found))
            check_child(c, p.schema, found, p.name, p.name_len, -1);
    }
    if (n->no_additional)
    {
        JsonbIterator *it = JsonbIteratorInit(obj);
        JsonbValue key;
        JsonbIteratorToken tok;
        while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
            if (tok == WJB_KEY && !find_property(n, key.val.string.val, key.val.string.len))
            {
                append_key(&c.path, key.val.string.val, key.val.string.len);
                data_error(c, "additionalProperties", "property is not allowed");
            }
    }
}

void check_node(Checker &c, const SchemaNode *n, const JsonbValue &v)
{
    if (n->reject_all)
        data_error(c, "false", "no value is allowed here");

    if (n->type_mask && !type_matches(n->type_mask, v))
    {
        uint16 bit = value_bit(v);
        data_error(c, "type", "expected %s", psprintf("%s, got %s", type_list(n->type_mask),
                                                      type_list(bit & ~T_NUMBER ? bit & ~T_NUMBER : bit)));
    }

    if (n->nenum)
    {
        JsonbValue copy = v;
        Jsonb *value = JsonbValueToJsonb(&copy);
        bool matched = false;
        int lo = 0, hi = n->nenum - 1;
        while (lo <= hi && !matched)
        {
            int mid = (lo + hi) / 2;
            int cmp = compareJsonbContainers(&value->root, &n->enum_values[mid]->root);
            matched = cmp == 0;
            if (cmp < 0)
                hi = mid - 1;
            else
                lo = mid + 1;
        }
        if (!matched)
            data_error(c, "enum", "value is not one of the allowed values");
    }

    switch (v.type)
    {
    case jbvNumeric:
        check_number(c, n, v.val.numeric);
        break;
    case jbvString:
        check_string(c, n, v.val.string.val, v.val.string.len);
        break;
    case jbvBinary:
        if (JsonContainerIsObject(v.val.binary.data))
            check_object(c, n, v.val.binary.data);
        else if (n->items)
        {
            int index = 0;
            JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
            JsonbValue e;
            JsonbIteratorToken tok;
            while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
                if (tok == WJB_ELEM)
                {
                    if ((index & 1023) == 0)
                        CHECK_FOR_INTERRUPTS();
                    check_child(c, n->items, e, nullptr, 0, index++);
                }
        }
        break;
    default:
        break;
    }
}

/* The root of a jsonb document as a JsonbValue (scalar, or binary container). */
JsonbValue root_value(Jsonb *doc)
{
    JsonbValue v;
    if (JB_ROOT_IS_SCALAR(doc))
        JsonbExtractScalar(&doc->root, &v);
    else
    {
        v.type = jbvBinary;
        v.val.binary.data = &doc->root;
        v.val.binary.len = VARSIZE(doc) - VARHDRSZ;
    }
    return v;
}

} // namespace

CompiledSchema compile_schema(Jsonb *schema, const char *what)
{
    Compiler c{what, nullptr, nullptr};
    SchemaNode *root = nullptr;
    try
    {
        root = pg::guard([&] {
            c.path = makeStringInfo();
            appendStringInfoChar(c.path, '$');
            return compile_node(c, root_value(schema), 0);
        });
    }
    catch (...)
    {
        /* c.regexes lives in this frame, updated by reference: current after a longjmp. */
        free_regexes(c.regexes);
        throw;
    }
    return CompiledSchema{root, c.regexes};
}

void free_regexes(RegexHolder *list)
{
    for (RegexHolder *h = list; h; h = h->next)
        pg_regfree(&h->re);
}

void check_data(const SchemaNode *root, Jsonb *data, const char *what)
{
    pg::guard([&] {
        Checker c;
        c.what = what;
        initStringInfo(&c.path);
        appendStringInfoChar(&c.path, '$');
        check_node(c, root, root_value(data));
    });
}

} // namespace types
