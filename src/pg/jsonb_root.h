/*
 * jsonb_root.h: the root of a jsonb document as a JsonbValue, the form
 * PostgreSQL's jsonb functions take: the scalar itself for a scalar document
 * (stored as a one-element raw array), else the binary container; the
 * member of an object container by a NUL-terminated key; and the loops over
 * an object's members or an array's elements:
 *
 *     JsonbIterator *it = JsonbIteratorInit(container);
 *     JsonbValue key, value;
 *     while (pg::jsonb_next_member(&it, &key, &value))
 *         ...
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

namespace pg {

inline JsonbValue jsonb_root_value(Jsonb *doc)
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

/* obj's member `key` into *out; false when obj has no such key. */
inline bool jsonb_member(JsonbContainer *obj, const char *key, JsonbValue *out)
{
    JsonbValue k;
    k.type = jbvString;
    k.val.string.val = const_cast<char *>(key);
    k.val.string.len = strlen(key);
    JsonbValue *found = findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
    if (!found)
        return false;
    *out = *found;
    pfree(found);
    return true;
}

/*
 * The next member of the object that *it iterates: its key and its value (a
 * nested container comes whole, as a jbvBinary value); false after the last.
 */
inline bool jsonb_next_member(JsonbIterator **it, JsonbValue *key, JsonbValue *value)
{
    JsonbIteratorToken tok;
    while ((tok = JsonbIteratorNext(it, key, true)) != WJB_DONE)
        if (tok == WJB_KEY)
        {
            JsonbIteratorNext(it, value, true);
            return true;
        }
    return false;
}

/* The next element of the array that *it iterates (nested containers whole); false after the last. */
inline bool jsonb_next_element(JsonbIterator **it, JsonbValue *value)
{
    JsonbIteratorToken tok;
    while ((tok = JsonbIteratorNext(it, value, true)) != WJB_DONE)
        if (tok == WJB_ELEM)
            return true;
    return false;
}

} // namespace pg
