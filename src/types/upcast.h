/*
 * upcast.h: upcaster rules (docs/reference/types.md), compiled once and applied to
 * stored event data on the way out of every read.
 *
 * Rules are a JSON object with up to three operations, applied in this order:
 *   rename  {"old": "new", ...}   top-level keys, all at once (so a swap works);
 *                                 a renamed key replaces a key of its new name
 *   set     {"key": value, ...}   literal values, overwriting
 *   unset   ["key", ...]          removed last, so they win over rename and set
 */
#pragma once

#include "pg/boundary.h"

extern "C" {
#include "utils/jsonb.h"
}

namespace types {

struct Key
{
    const char *name;
    int len;
};

struct Upcaster
{
    Key *rename_from;
    Key *rename_to;
    int nrename;
    Jsonb *set; /* an object, or NULL */
    Key *unset;
    int nunset;
};

/* Compile rules into CurrentMemoryContext; malformed rules are 22023 naming `what`. */
Upcaster *compile_upcaster(Jsonb *rules, const char *what);

/* The upcasted copy of data, in CurrentMemoryContext (data itself when not an object). */
Jsonb *apply_upcaster(const Upcaster *u, Jsonb *data);

} // namespace types
