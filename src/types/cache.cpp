/*
 * cache.cpp: the per-backend cache of event types and upcasters (cache.h).
 *
 * Staleness is a generation count: the relcache callback (and a local change)
 * bumps `generation`, and the cache remembers the generation it was read at.
 * The tables are read with the latest snapshot, taken after the generation
 * was noted, so a definition committed before an invalidation we processed is
 * always seen; one committed later bumps the generation again.
 */
#include "types/cache.h"
#include "pg/callbacks.h"
#include "pg/spi.h"

#include "errors.h"

#include <string>

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "miscadmin.h"
}

namespace types {

namespace {

MemoryContext cache_context = nullptr; /* owns the hash table and everything in it */
HTAB *cache_table = nullptr;
int upcaster_count = 0;

uint64 generation = 1;       /* bumped by every invalidation */
uint64 loaded_generation = 0; /* generation the cache was read at */
bool changed_in_xact = false; /* this transaction changed a definition */

Oid event_types_relid = InvalidOid;
Oid upcasters_relid = InvalidOid;

SPIPlanPtr load_types_plan = nullptr;
SPIPlanPtr load_upcasters_plan = nullptr;

void relcache_callback(Datum, Oid relid)
{
    if (relid == InvalidOid || relid == event_types_relid || relid == upcasters_relid)
        generation++;
}

/*
 * A rolled-back definition may have been read into the cache already (in the
 * same command, before PostgreSQL's own invalidation processing): forget it.
 * So with a prepared one: it is not committed yet, and may never be (COMMIT
 * PREPARED sends the invalidations that bring it back).
 */
void xact_callback(XactEvent event, void *)
{
    if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
    {
        if (changed_in_xact)
            generation++;
        changed_in_xact = false;
    }
    else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
        changed_in_xact = false;
}

void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    if (event == SUBXACT_EVENT_ABORT_SUB && changed_in_xact)
        generation++;
}

/* Release the cache: regexes are malloc'd by the regex engine, the rest is in the context. */
void drop_cache()
{
    if (cache_table)
    {
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, cache_table);
        while (TypeEntry *e = static_cast<TypeEntry *>(hash_seq_search(&seq)))
            for (int i = 0; i < e->nschemas; i++)
                free_regexes(e->schemas[i].compiled.regexes);
    }
    if (cache_context)
        MemoryContextDelete(cache_context);
    cache_context = nullptr;
    cache_table = nullptr;
    upcaster_count = 0;
}

/* Run a load query; rows come back as (type text, version int, document jsonb). */
void run(SPIPlanPtr plan)
{
    /* A parallel operation may not take a new snapshot; it reads with the query's. */
    Snapshot snapshot = IsInParallelMode() ? InvalidSnapshot : GetLatestSnapshot();
    int rc = pg::spi::execute_snapshot(plan, nullptr, nullptr, snapshot, InvalidSnapshot, true, false, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "chronicle: reading event types failed: %s", SPI_result_code_string(rc));
}

/*
 * The hash key is a pointer to the type name: entries stay small whatever the
 * length of names (up to 255 characters), and lookups hash the name itself.
 */
uint32 key_hash(const void *key, Size)
{
    const char *name = *static_cast<const char *const *>(key);
    return hash_bytes(reinterpret_cast<const unsigned char *>(name), strlen(name));
}

int key_match(const void *a, const void *b, Size)
{
    return strcmp(*static_cast<const char *const *>(a), *static_cast<const char *const *>(b));
}

void *key_copy(void *dest, const void *src, Size)
{
    *static_cast<const char **>(dest) = MemoryContextStrdup(cache_context, *static_cast<const char *const *>(src));
    return dest;
}

TypeEntry *entry_for(Datum type_datum)
{
    const char *type = TextDatumGetCString(type_datum);
    bool found;
    TypeEntry *e = static_cast<TypeEntry *>(hash_search(cache_table, &type, HASH_ENTER, &found));
    if (!found)
    {
        e->schemas = nullptr;
        e->nschemas = 0;
        e->upcasters = nullptr;
        e->nupcasters = 0;
    }
    return e;
}

Oid table_owner(Oid relid)
{
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        elog(ERROR, "chronicle: cache lookup failed for relation %u", relid);
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
}

/* Read both tables into cache_table (in cache_context).  Plain C-style frame. */
void load()
{

    HASHCTL ctl;
    memset(&ctl, 0, sizeof(ctl));
    ctl.keysize = sizeof(const char *);
    ctl.entrysize = sizeof(TypeEntry);
    ctl.hash = key_hash;
    ctl.match = key_match;
    ctl.keycopy = key_copy;
    ctl.hcxt = cache_context;
    cache_table = hash_create("chronicle event types", 64, &ctl,
                              HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);

    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "chronicle: SPI_connect failed");
    SPIPlanPtr plans[2] = {
        pg::spi::kept_plan(&load_types_plan,
                           "SELECT type, type_version, schema FROM chronicle.event_types ORDER BY type_version",
                           0, nullptr),
        pg::spi::kept_plan(&load_upcasters_plan,
                           "SELECT type, from_version, rules FROM chronicle.upcasters ORDER BY from_version",
                           0, nullptr),
    };

    for (int table = 0; table < 2; table++)
    {
        run(plans[table]);
        MemoryContext spi_context = MemoryContextSwitchTo(cache_context);
        for (uint64 row = 0; row < SPI_processed; row++)
        {
            HeapTuple tuple = SPI_tuptable->vals[row];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull;
            Datum type = SPI_getbinval(tuple, desc, 1, &isnull);
            int32 version = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
            Jsonb *doc = DatumGetJsonbPCopy(SPI_getbinval(tuple, desc, 3, &isnull));
            TypeEntry *e = entry_for(type);
            /* Rows arrive in version order, so each array stays sorted. */
            if (table == 0)
            {
                e->schemas = static_cast<SchemaSlot *>(
                    e->schemas ? repalloc(e->schemas, sizeof(SchemaSlot) * (e->nschemas + 1))
                               : palloc(sizeof(SchemaSlot)));
                e->schemas[e->nschemas++] = SchemaSlot{version, doc, CompiledSchema{nullptr, nullptr}, nullptr};
            }
            else
            {
                e->upcasters = static_cast<UpcasterSlot *>(
                    e->upcasters ? repalloc(e->upcasters, sizeof(UpcasterSlot) * (e->nupcasters + 1))
                                 : palloc(sizeof(UpcasterSlot)));
                e->upcasters[e->nupcasters++] = UpcasterSlot{version, doc, nullptr, nullptr};
                upcaster_count++;
            }
        }
        MemoryContextSwitchTo(spi_context);
    }
    SPI_finish();
}

template <typename Slot>
Slot *find_slot(Slot *slots, int n, int32 version, int32 Slot::*key)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi)
    {
        int mid = (lo + hi) / 2;
        if (slots[mid].*key == version)
            return &slots[mid];
        if (slots[mid].*key < version)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return nullptr;
}

/* A stored definition that does not compile (edited by hand) fails every use of it. */
[[noreturn]] void stored_error(int code, const char *message)
{
    throw pg::Error(code, message, {},
                    "The stored definition was not written by chronicle's define functions; define it again.");
}

/*
 * Run compile (which allocates in CurrentMemoryContext) in the cache's
 * context.  A domain error is remembered, not thrown: the message, copied
 * into the cache, is returned (NULL on success) so every later use repeats it.
 */
template <typename Fn>
char *compile_in_cache(Fn &&compile)
{
    MemoryContext caller = MemoryContextSwitchTo(cache_context);
    std::string failure;
    try
    {
        compile();
    }
    catch (const pg::Error &e)
    {
        failure = e.what();
    }
    catch (...)
    {
        MemoryContextSwitchTo(caller);
        throw;
    }
    MemoryContextSwitchTo(caller);
    if (failure.empty())
        return nullptr;
    const char *text = failure.c_str();
    return pg::guard([&] { return MemoryContextStrdup(cache_context, text); });
}

} // namespace

void cache_init()
{
    pg::callbacks::on_relcache(relcache_callback, 0);
    pg::callbacks::on_xact(xact_callback, nullptr);
    pg::callbacks::on_subxact(subxact_callback, nullptr);
}

void cache_ensure()
{
    if (cache_table && loaded_generation == generation)
        return;
    uint64 reading = generation;
    /*
     * The tables are read as their owner: the cache serves every role of the
     * session alike, so what it holds must not depend on who filled it.
     */
    Oid caller;
    int caller_context;
    GetUserIdAndSecContext(&caller, &caller_context);
    try
    {
        pg::guard([&] {
            drop_cache();
            cache_context = AllocSetContextCreate(CacheMemoryContext, "chronicle event types",
                                                  ALLOCSET_SMALL_SIZES);
            Oid ns = get_namespace_oid("chronicle", false);
            event_types_relid = get_relname_relid("event_types", ns);
            upcasters_relid = get_relname_relid("upcasters", ns);
            SetUserIdAndSecContext(table_owner(event_types_relid),
                                   caller_context | SECURITY_LOCAL_USERID_CHANGE);
            load();
        });
    }
    catch (...)
    {
        SetUserIdAndSecContext(caller, caller_context);
        throw;
    }
    SetUserIdAndSecContext(caller, caller_context);
    loaded_generation = reading;
}

bool cache_has_upcasters()
{
    return upcaster_count > 0;
}

TypeEntry *cache_find(const char *type)
{
    return static_cast<TypeEntry *>(hash_search(cache_table, &type, HASH_FIND, nullptr));
}

const SchemaNode *cache_schema(TypeEntry *entry, int32 version)
{
    SchemaSlot *slot = find_slot(entry->schemas, entry->nschemas, version, &SchemaSlot::version);
    if (!slot)
        return nullptr;
    if (!slot->compiled.root && !slot->error)
    {
        std::string what = pg::format("event type \"%s\" (type_version %d)", entry->type, version);
        slot->error = compile_in_cache([&] { slot->compiled = compile_schema(slot->raw, what.c_str()); });
    }
    if (slot->error)
        stored_error(CHRONICLE_INVALID_EVENT, slot->error);
    return slot->compiled.root;
}

const Upcaster *cache_upcaster(TypeEntry *entry, int32 version)
{
    UpcasterSlot *slot = find_slot(entry->upcasters, entry->nupcasters, version, &UpcasterSlot::from_version);
    if (!slot)
        return nullptr;
    if (!slot->compiled && !slot->error)
    {
        std::string what = pg::format("\"%s\" from type_version %d", entry->type, version);
        slot->error = compile_in_cache([&] { slot->compiled = compile_upcaster(slot->raw, what.c_str()); });
    }
    if (slot->error)
        stored_error(ERRCODE_INVALID_PARAMETER_VALUE, slot->error);
    return slot->compiled;
}

void cache_changed_here()
{
    changed_in_xact = true;
    generation++;
}

} // namespace types
