/*
 * schema_util.h: small helpers shared by the schema compiler (compile.cpp)
 * and checker (check.cpp).  Internal to src/types; they may ereport, so call
 * them under pg::guard() (as both files do).
 */
#pragma once

#include "types/schema.h"

extern "C" {
#include "lib/stringinfo.h"
}

namespace types::detail {

int numeric_compare(Numeric a, Numeric b);
bool numeric_integral(Numeric n); /* no fractional part (1.0 and 1e2 are integral) */
const char *numeric_text(Numeric n);
Numeric numeric_copy(Numeric n);

/* Jsonb orders object keys by length, then bytes; compiled properties follow suit. */
int key_compare(const char *a, int alen, const char *b, int blen);

/* n's property named key, or NULL. */
const Property *find_property(const SchemaNode *n, const char *key, int len);

/* Append a key to a JSON path: `.key` for identifiers, `["k e y"]` otherwise. */
void append_key(StringInfo path, const char *key, int len);

/* Throw SE003 with a palloc'd message (no C++ object is alive before the throw). */
[[noreturn]] void throw_invalid(const char *message);

} // namespace types::detail
