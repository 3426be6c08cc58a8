/*
 * jsonb_root.h: the root of a jsonb document as a JsonbValue, the form
 * PostgreSQL's jsonb functions take: the scalar itself for a scalar document
 * (stored as a one-element raw array), else the binary container.
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

} // namespace pg
