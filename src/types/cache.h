/*
 * cache.h: the per-backend cache of event types and upcasters.
 *
 * The whole of chronicle.event_types and chronicle.upcasters is read into a
 * hash table keyed by type name on first use, and again after any change:
 * a trigger on both tables calls CacheInvalidateRelcacheByRelid(), whose
 * message reaches every backend (and hot standbys, through the WAL), and a
 * relcache callback marks the cache stale.  Schemas and rules are compiled
 * lazily, the first time a type is checked or read.
 */
#pragma once

#include "types/schema.h"
#include "types/upcast.h"

namespace types {

struct SchemaSlot
{
    int32 version;
    Jsonb *raw;
    CompiledSchema compiled; /* root is NULL until first use */
    char *error;             /* set when the stored schema does not compile */
};

struct UpcasterSlot
{
    int32 from_version;
    Jsonb *raw;
    Upcaster *compiled;
    char *error;
};

struct TypeEntry
{
    const char *type; /* hash key: the name, copied into the cache's context */
    SchemaSlot *schemas;      /* sorted by version */
    int nschemas;
    UpcasterSlot *upcasters; /* sorted by from_version */
    int nupcasters;
};

/* Register the invalidation callbacks; called once from _PG_init. */
void cache_init();

/* Make the cache current (reading the tables if it is stale). */
void cache_ensure();

/* Does any type have an upcaster?  (After cache_ensure.) */
bool cache_has_upcasters();

/* The entry of a type, or NULL.  (After cache_ensure.) */
TypeEntry *cache_find(const char *type);

/* The compiled schema of (entry, version), or NULL when there is none. */
const SchemaNode *cache_schema(TypeEntry *entry, int32 version);

/* The compiled upcaster from `version`, or NULL when there is none. */
const Upcaster *cache_upcaster(TypeEntry *entry, int32 version);

/* A definition changed in this backend: forget the cache now, and again if
 * the (sub)transaction that made the change rolls back. */
void cache_changed_here();

} // namespace types
