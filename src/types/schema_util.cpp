/*
 * schema_util.cpp: helpers shared by the schema compiler and checker
 * (schema_util.h).
 */
#include "types/schema_util.h"

#include "errors.h"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
}

namespace types::detail {

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

/* n's schema for property key (binary search: properties are in key_compare order), or NULL. */
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

} // namespace types::detail
