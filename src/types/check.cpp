/*
 * check.cpp: checking event data against a compiled schema (schema.h).
 * check_data() runs the walk under one pg::guard(): below it, frames hold
 * only plain values and palloc'd memory, and a failed rule is thrown as
 * pg::Error (SE003) naming the JSON path and the rule.
 */
#include "types/schema_util.h"

#include "errors.h"
#include "pg/jsonb_root.h"

extern "C" {
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
}

namespace types {

using namespace detail;

namespace {

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
            while (pg::jsonb_next_element(&it, &e))
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

} // namespace

void check_data(const SchemaNode *root, Jsonb *data, const char *what)
{
    pg::guard([&] {
        Checker c;
        c.what = what;
        initStringInfo(&c.path);
        appendStringInfoChar(&c.path, '$');
        check_node(c, root, pg::jsonb_root_value(data));
    });
}

} // namespace types
