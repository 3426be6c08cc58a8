/*
 * types.h: event-type integrity rules and upcasters (docs/reference/types.md), as the
 * events and replay modules see them.
 *
 * src/types is C++-style (pg/boundary.h): inside it, errors travel as C++
 * exceptions (pg::Error, pg::PgError) and PostgreSQL calls run under
 * pg::guard() (schema_util.h's helpers may ereport and are called under one).
 * The functions below are its C-style face: they run under pg::c_entry() and
 * so report every error with ereport(ERROR); call them from frames without
 * C++ destructors, or through pg::guard().
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

/*
 * Called once from _PG_init: defines the chronicle.strict_types setting and
 * registers the cache invalidation callbacks.
 */
void types_init(void);

/*
 * Check an event's data against the schema defined for (type, type_version)
 * before it is appended.  Raises SE003 (with the JSON path and the failed
 * rule) when the data breaks the schema, or when chronicle.strict_types is on
 * and the type has no schema.  Returns normally otherwise.
 */
void types_check_event(const char *type, int32 type_version, Jsonb *data);

/*
 * Bring stored data of (type, *type_version) up to the newest version through
 * the chain of upcasters, updating *type_version.  Returns data itself when no
 * upcaster applies (the common case, which costs one hash lookup, or none when
 * no upcaster exists at all); otherwise a new document palloc'd in
 * CurrentMemoryContext.  Never writes anything, so it works on a hot standby.
 */
Jsonb *types_upcast(const char *type, int32 *type_version, Jsonb *data);

/*
 * The values of data (stored as type at type_version) that the type's schema
 * for that version marks "x-personal": true, through properties, items,
 * allOf, anyOf, oneOf and local $ref (schema.h, personal_paths, says how).
 * Returns false when there is no such schema; else sets *paths (palloc'd in
 * CurrentMemoryContext, in data order, none inside another) and *npaths.
 * A path of no steps is data itself.  For chronicle.redact.
 */
struct TypesPersonalStep
{
    const char *key; /* an object key (key_len bytes), or NULL: element `index` of an array */
    int key_len;
    int index;
};
struct TypesPersonalPath
{
    int nsteps;
    TypesPersonalStep *steps;
};
bool types_personal_paths(const char *type, int32 type_version, Jsonb *data, TypesPersonalPath **paths,
                          int *npaths);

/*
 * Whether any upcaster is defined for type: false means types_upcast would
 * return every event of that type unchanged.  A reader of many events of
 * one type (a replay) asks once per run of that type instead of per event.
 */
bool types_has_upcasters(const char *type);
