/*
 * check.cpp: checking event data against a compiled schema (schema.h).
 * check_data() runs the walk under one pg::guard(): below it, frames hold
 * only plain values and palloc'd memory, and a failed rule is thrown as
 * pg::Error (SE003) naming the JSON path and the rule.  Every check returns
 * whether the value passed: while a branch of anyOf / oneOf is tried
 * (Checker::quiet), a failed rule returns false instead of throwing, and no
 * message is built.
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
    /* Schemas checked so far, and the bound (check_data): with $ref and
     * anyOf/oneOf a schema may apply to a value many times over. */
    int64 steps;
    int64 max_steps;
    int quiet; /* > 0: trying a branch; a failure is `false`, not an error */
};

[[noreturn]] void data_error(Checker &c, const char *rule, const char *fmt, const char *arg = nullptr)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid event %s at %s: %s: ", c.what, c.path.data, rule);
    appendStringInfo(&msg, fmt, arg);
    throw_invalid(msg.data);
}

/* A failed rule: false while quiet (the message's arguments are not even
 * evaluated), else the SE003 error. */
#define FAIL(...) return c.quiet ? false : (data_error(c, __VA_ARGS__), false)

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

bool check_node(Checker &c, const SchemaNode *n, const JsonbValue &v);

bool check_child(Checker &c, const SchemaNode *n, const JsonbValue &v, const char *key, int keylen,
                 int index)
{
    int saved = c.path.len;
    if (!c.quiet)
    {
        if (key)
            append_key(&c.path, key, keylen);
        else
            appendStringInfo(&c.path, "[%d]", index);
    }
    bool ok = check_node(c, n, v);
    c.path.len = saved;
    c.path.data[saved] = '\0';
    return ok;
}

bool check_number(Checker &c, const SchemaNode *n, Numeric x)
{
    if (n->minimum && numeric_compare(x, n->minimum) < 0)
        FAIL("minimum", "must be >= %s", numeric_text(n->minimum));
    if (n->maximum && numeric_compare(x, n->maximum) > 0)
        FAIL("maximum", "must be <= %s", numeric_text(n->maximum));
    if (n->exclusive_minimum && numeric_compare(x, n->exclusive_minimum) <= 0)
        FAIL("exclusiveMinimum", "must be > %s", numeric_text(n->exclusive_minimum));
    if (n->exclusive_maximum && numeric_compare(x, n->exclusive_maximum) >= 0)
        FAIL("exclusiveMaximum", "must be < %s", numeric_text(n->exclusive_maximum));
    return true;
}

bool check_string(Checker &c, const SchemaNode *n, const char *s, int len)
{
    if (n->min_length >= 0 || n->max_length >= 0)
    {
        int chars = pg_mbstrlen_with_len(s, len);
        char limit[32];
        if (n->min_length >= 0 && chars < n->min_length)
        {
            snprintf(limit, sizeof(limit), "%d character%s", n->min_length, n->min_length == 1 ? "" : "s");
            FAIL("minLength", "must be at least %s long", limit);
        }
        if (n->max_length >= 0 && chars > n->max_length)
        {
            snprintf(limit, sizeof(limit), "%d character%s", n->max_length, n->max_length == 1 ? "" : "s");
            FAIL("maxLength", "must be at most %s long", limit);
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
            FAIL("pattern", "does not match \"%s\"", n->pattern_source);
        if (rc != REG_OKAY)
        {
            /* REG_CANCEL: report the pending interrupt (57014), as regexp.c does. */
            CHECK_FOR_INTERRUPTS();
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
            FAIL("format", "not a valid date (YYYY-MM-DD)");
        break;
    case F_DATE_TIME:
        if (!is_date_time(s, len))
            FAIL("format", "not a valid date-time (RFC 3339)");
        break;
    case F_UUID:
        if (!is_uuid(s, len))
            FAIL("format", "not a valid uuid");
        break;
    case F_EMAIL:
        if (!is_email(s, len))
            FAIL("format", "not a valid email address");
        break;
    }
    return true;
}

bool check_object(Checker &c, const SchemaNode *n, JsonbContainer *obj)
{
    JsonbValue found;
    for (int i = 0; i < n->nrequired; i++)
    {
        const Property &r = n->required[i];
        if (!getKeyJsonValueFromContainer(obj, r.name, r.name_len, &found))
        {
            if (c.quiet)
                return false;
            append_key(&c.path, r.name, r.name_len);
            data_error(c, "required", "property is missing");
        }
    }
    for (int i = 0; i < n->nproperties; i++)
    {
        const Property &p = n->properties[i];
        if (getKeyJsonValueFromContainer(obj, p.name, p.name_len, &found) &&
            !check_child(c, p.schema, found, p.name, p.name_len, -1))
            return false;
    }
    if (n->no_additional)
    {
        JsonbIterator *it = JsonbIteratorInit(obj);
        JsonbValue key;
        JsonbIteratorToken tok;
        while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
            if (tok == WJB_KEY && !find_property(n, key.val.string.val, key.val.string.len))
            {
                if (c.quiet)
                    return false;
                append_key(&c.path, key.val.string.val, key.val.string.len);
                data_error(c, "additionalProperties", "property is not allowed");
            }
    }
    return true;
}

/* Does v pass n?  Tried quietly: a failure is false, and leaves no message. */
bool passes(Checker &c, const SchemaNode *n, const JsonbValue &v)
{
    c.quiet++;
    bool ok = check_node(c, n, v);
    c.quiet--;
    return ok;
}

/* allOf, $ref, anyOf, oneOf: the same value against more schemas. */
bool check_applicators(Checker &c, const SchemaNode *n, const JsonbValue &v)
{
    for (int i = 0; i < n->nall_of; i++)
        if (!check_node(c, n->all_of[i], v))
            return false;
    if (n->ref && !check_node(c, n->ref, v))
        return false;
    if (n->nany_of)
    {
        bool any = false;
        for (int i = 0; i < n->nany_of && !any; i++)
            any = passes(c, n->any_of[i], v);
        if (!any)
            FAIL("anyOf", "matches none of its %s schemas", psprintf("%d", n->nany_of));
    }
    if (n->none_of)
    {
        int matched = 0;
        for (int i = 0; i < n->none_of && matched < 2; i++)
            matched += passes(c, n->one_of[i], v);
        if (matched != 1)
            FAIL("oneOf", "%s", matched == 0 ? psprintf("matches none of its %d schemas", n->none_of)
                                             : "matches more than one of its schemas");
    }
    return true;
}

bool check_node(Checker &c, const SchemaNode *n, const JsonbValue &v)
{
    /* A recursive schema follows the data as deep as it goes (54001 past the stack's limit). */
    check_stack_depth();
    /* The bound is an error even while quiet: no anyOf or oneOf may take it for a mismatch. */
    if (++c.steps > c.max_steps)
        data_error(c, "schema", "checking this value needs more than %s schema applications (allOf, anyOf, oneOf, $ref)",
                   psprintf(INT64_FORMAT, c.max_steps));
    if ((c.steps & 4095) == 0)
        CHECK_FOR_INTERRUPTS();
    if (n->reject_all)
        FAIL("false", "no value is allowed here");

    if (n->type_mask && !type_matches(n->type_mask, v))
    {
        uint16 bit = value_bit(v);
        FAIL("type", "expected %s", psprintf("%s, got %s", type_list(n->type_mask),
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
            FAIL("enum", "value is not one of the allowed values");
    }

    switch (v.type)
    {
    case jbvNumeric:
        if (!check_number(c, n, v.val.numeric))
            return false;
        break;
    case jbvString:
        if (!check_string(c, n, v.val.string.val, v.val.string.len))
            return false;
        break;
    case jbvBinary:
        if (JsonContainerIsObject(v.val.binary.data))
        {
            if (!check_object(c, n, v.val.binary.data))
                return false;
        }
        else if (n->items)
        {
            int index = 0;
            JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
            JsonbValue e;
            while (pg::jsonb_next_element(&it, &e))
            {
                if ((index & 1023) == 0)
                    CHECK_FOR_INTERRUPTS();
                if (!check_child(c, n->items, e, nullptr, 0, index++))
                    return false;
            }
        }
        break;
    default:
        break;
    }
    return check_applicators(c, n, v);
}

} // namespace

void check_data(const SchemaNode *root, Jsonb *data, const char *what)
{
    pg::guard([&] {
        Checker c;
        c.what = what;
        initStringInfo(&c.path);
        appendStringInfoChar(&c.path, '$');
        /* Without applicators a schema applies at most once to each value,
         * and a value takes at least a byte: never near the bound. */
        c.steps = 0;
        c.max_steps = check_steps_base + check_steps_per_byte * (int64)VARSIZE(data);
        c.quiet = 0;
        check_node(c, root, pg::jsonb_root_value(data));
    });
}

} // namespace types
