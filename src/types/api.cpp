/*
 * api.cpp: what the rest of chronicle and SQL see of event types: the
 * types.h functions, the chronicle.strict_types setting, and the C functions
 * behind define_event_type / define_upcaster and their test helpers.
 */
#include "types/types.h"
#include "pg/spi.h"

#include "errors.h"
#include "pg/callbacks.h"
#include "pg/owner.h"
#include "types/cache.h"

#include <string>

extern "C" {
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace {

bool strict_types = false;

/*
 * Per-call scratch memory of the checker and the upcaster (iterators, parse
 * states, intermediate documents of a chain), reset on every call so that a
 * read of a million upcasted rows does not grow the caller's context.
 */
MemoryContext scratch_context = nullptr;

MemoryContext enter_scratch()
{
    if (!scratch_context)
        scratch_context = AllocSetContextCreate(TopMemoryContext, "chronicle types scratch",
                                                ALLOCSET_DEFAULT_SIZES);
    else
        MemoryContextReset(scratch_context);
    return MemoryContextSwitchTo(scratch_context);
}

/* Switches back to the caller's memory context however the scope is left. */
struct ScratchScope
{
    MemoryContext caller;
    ScratchScope() : caller(pg::guard([] { return enter_scratch(); })) {}
    ~ScratchScope() { MemoryContextSwitchTo(caller); }
    ScratchScope(const ScratchScope &) = delete;
    ScratchScope &operator=(const ScratchScope &) = delete;
};

void check_event(const char *type, int32 type_version, Jsonb *data)
{
    types::cache_ensure();
    types::TypeEntry *entry = types::cache_find(type);
    const types::SchemaNode *schema = entry ? types::cache_schema(entry, type_version) : nullptr;
    if (!schema)
    {
        if (strict_types)
            throw pg::Error(CHRONICLE_INVALID_EVENT,
                            pg::format("event type \"%s\" has no schema for type_version %d", type,
                                       type_version),
                            "chronicle.strict_types is on, so every event needs a schema.",
                            "Define one with chronicle.define_event_type(), or SET chronicle.strict_types = off.");
        return;
    }
    ScratchScope scratch;
    std::string what = pg::format("\"%s\" (type_version %d)", type, type_version);
    types::check_data(schema, data, what.c_str());
}

/* The upcasted data in the caller's context, or data itself when nothing applies. */
Jsonb *upcast(const char *type, int32 *type_version, Jsonb *data)
{
    types::cache_ensure();
    if (!types::cache_has_upcasters())
        return data;
    types::TypeEntry *entry = types::cache_find(type);
    if (!entry || entry->nupcasters == 0)
        return data;
    const types::Upcaster *step = types::cache_upcaster(entry, *type_version);
    if (!step)
        return data;

    Jsonb *current = data;
    int32 version = *type_version;
    {
        ScratchScope scratch;
        while (step)
        {
            current = types::apply_upcaster(step, current);
            /* define_upcaster keeps from_version below INT_MAX, so this cannot overflow. */
            version++;
            step = types::cache_upcaster(entry, version);
        }
    }
    Jsonb *result = pg::guard([&] {
        Jsonb *copy = static_cast<Jsonb *>(palloc(VARSIZE(current)));
        memcpy(copy, current, VARSIZE(current));
        return copy;
    });
    *type_version = version;
    return result;
}

/* The define functions take no NULLs (they are not STRICT, so that a NULL is an error). */
void check_no_nulls(FunctionCallInfo fcinfo, const char *function)
{
    for (int i = 0; i < PG_NARGS(); i++)
        if (PG_ARGISNULL(i))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                            pg::format("argument %d of %s must not be NULL", i + 1, function));
}

/* A type name as append accepts it (src/events/validate.cpp): 1..255 characters. */
const char *type_argument(Datum d)
{
    const char *type = pg::guard([&] { return TextDatumGetCString(d); });
    int chars = pg::guard([&] { return pg_mbstrlen(type); });
    if (chars < 1 || chars > 255)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("event type must be 1 to 255 characters long, not %d", chars));
    return type;
}

/*
 * Store a definition of `type`, as the function's owner (the extension's,
 * who owns the tables: writers have no privilege on them, and
 * define_event_type and define_upcaster are not SECURITY DEFINER, so that
 * the caller is known).
 *
 * First the type's owner: the upsert on chronicle.event_type_owners inserts
 * the caller as owner of a type nobody defined yet, or locks the existing
 * row (DO UPDATE ... WHERE false: locked, not rewritten) and reads it.  A type that has definitions but
 * no owner row (a restore whose COPY of the owners failed: one missing role
 * fails them all; a hand edit) is not free: it gets the function's owner,
 * the extension's, as the types of a database upgraded from 0.1.0 do.  Either way the row stays
 * locked until the transaction ends, so no concurrent definition slips
 * between this check and the write, and two first definitions of one type
 * queue on its key.  Only the owner or a member of the owning role
 * (has_privs_of_role: a superuser is one) passes, else 42501 and nothing is
 * written.  Then the definition: an unchanged one is not rewritten (and so
 * invalidates no cache).
 */
void store(FunctionCallInfo fcinfo, SPIPlanPtr *plan, const char *sql, const char *type, Datum version,
           Datum document)
{
    static SPIPlanPtr owner_plan = nullptr;
    Oid caller;
    int context;
    GetUserIdAndSecContext(&caller, &context);
    Oid table_owner = pg::guard([&] { return pg::function_owner(fcinfo); });
    Datum type_datum = PG_GETARG_DATUM(0);
    Oid type_owner = InvalidOid;
    try
    {
        pg::guard([&] {
            SetUserIdAndSecContext(table_owner, context | SECURITY_LOCAL_USERID_CHANGE);
            if (SPI_connect() != SPI_OK_CONNECT)
                elog(ERROR, "chronicle: SPI_connect failed");
            static const Oid owner_types[3] = {TEXTOID, OIDOID, OIDOID};
            Datum owner_args[3] = {type_datum, ObjectIdGetDatum(caller), ObjectIdGetDatum(table_owner)};
            int rc = pg::spi::execute_plan(
                pg::spi::kept_plan(&owner_plan,
                                   "INSERT INTO chronicle.event_type_owners AS o (type, owner) "
                                   "SELECT $1, (CASE WHEN EXISTS (SELECT FROM chronicle.event_types t "
                                   "WHERE t.type OPERATOR(pg_catalog.=) $1) "
                                   "OR EXISTS (SELECT FROM chronicle.upcasters u "
                                   "WHERE u.type OPERATOR(pg_catalog.=) $1) "
                                   "THEN $3 ELSE $2 END)::pg_catalog.regrole "
                                   "ON CONFLICT ON CONSTRAINT event_type_owners_pkey DO UPDATE "
                                   "SET owner = o.owner WHERE false "
                                   "RETURNING o.owner::pg_catalog.oid",
                                   3, owner_types),
                owner_args, nullptr, false, 0);
            if (rc != SPI_OK_INSERT_RETURNING || SPI_processed > 1)
                elog(ERROR, "chronicle: recording the event type's owner failed: %s", SPI_result_code_string(rc));
            if (SPI_processed == 0)
            {
                /* The row existed: the conflict locked it (WHERE false updates nothing).
                 * Not read-only, so this statement's snapshot sees it (also when this
                 * transaction inserted it): under READ COMMITTED a new one,
                 * under REPEATABLE READ the conflict would have failed (40001) had
                 * it been invisible. */
                static SPIPlanPtr owner_of_plan = nullptr;
                rc = pg::spi::execute_plan(
                    pg::spi::kept_plan(&owner_of_plan,
                                       "SELECT o.owner::pg_catalog.oid FROM chronicle.event_type_owners o "
                                       "WHERE o.type OPERATOR(pg_catalog.=) $1",
                                       1, owner_types),
                    owner_args, nullptr, false, 1);
                if (rc != SPI_OK_SELECT || SPI_processed != 1)
                    elog(ERROR, "chronicle: reading the event type's owner failed: %s", SPI_result_code_string(rc));
            }
            bool isnull;
            type_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
            if (has_privs_of_role(caller, type_owner))
            {
                static const Oid argtypes[3] = {TEXTOID, INT4OID, JSONBOID};
                Datum values[3] = {type_datum, version, document};
                rc = pg::spi::execute_plan(pg::spi::kept_plan(plan, sql, 3, argtypes), values, nullptr, false, 0);
                if (rc != SPI_OK_INSERT)
                    elog(ERROR, "chronicle: storing the definition failed: %s", SPI_result_code_string(rc));
            }
            SPI_finish();
        });
    }
    catch (...)
    {
        SetUserIdAndSecContext(caller, context);
        throw;
    }
    SetUserIdAndSecContext(caller, context);
    if (!pg::guard([&] { return has_privs_of_role(caller, type_owner); }))
    {
        const char *who = pg::guard([&] { return GetUserNameFromId(type_owner, true); });
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        who ? pg::format("event type \"%s\" is owned by role %s", type, who)
                            : pg::format("event type \"%s\" is owned by a dropped role (OID %u)", type, type_owner),
                        "Only the type's owner or a member of the owning role may define its schemas and upcasters.");
    }
}

SPIPlanPtr store_type_plan = nullptr;
SPIPlanPtr store_upcaster_plan = nullptr;

} // namespace

/* ------------------------------------------------------------- types.h */

void types_init(void)
{
    DefineCustomBoolVariable("chronicle.strict_types",
                             "Reject events whose type has no schema for their type_version.",
                             "When off (the default), events of types without a schema are "
                             "appended unchecked.",
                             &strict_types, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    types::cache_init();
}

/*
 * The C-style callers (events, replay) reach this C++-style module through
 * pg::c_entry(): what it throws reaches them as ereport(ERROR).
 */
void types_check_event(const char *type, int32 type_version, Jsonb *data)
{
    pg::c_entry([&] { check_event(type, type_version, data); });
}

bool types_personal_paths(const char *type, int32 type_version, Jsonb *data, TypesPersonalPath **paths,
                          int *npaths)
{
    return pg::c_entry([&] {
        types::cache_ensure();
        types::TypeEntry *entry = types::cache_find(type);
        const types::SchemaNode *schema = entry ? types::cache_schema(entry, type_version) : nullptr;
        if (!schema)
            return false;
        types::PersonalPaths found = types::personal_paths(schema, data);
        *paths = found.paths;
        *npaths = found.npaths;
        return true;
    });
}

bool types_has_upcasters(const char *type)
{
    return pg::c_entry([&] {
        types::cache_ensure();
        if (!types::cache_has_upcasters())
            return false;
        types::TypeEntry *entry = types::cache_find(type);
        return entry && entry->nupcasters > 0;
    });
}

Jsonb *types_upcast(const char *type, int32 *type_version, Jsonb *data)
{
    return pg::c_entry([&] { return upcast(type, type_version, data); });
}

/* ------------------------------------------------------ SQL-callable */

/* chronicle.define_event_type(type text, schema jsonb, type_version int DEFAULT 1) */
SQL_FUNCTION(chronicle_define_event_type)
{
    check_no_nulls(fcinfo, "chronicle.define_event_type");
    const char *type = type_argument(PG_GETARG_DATUM(0));
    Jsonb *schema = pg::guard([&] { return PG_GETARG_JSONB_P(1); });
    int32 version = PG_GETARG_INT32(2);
    if (version < 1)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("type_version must be 1 or more, not %d", version));
    std::string what = pg::format("event type \"%s\" (type_version %d)", type, version);
    types::CompiledSchema compiled = types::compile_schema(schema, what.c_str());
    types::free_regexes(compiled.regexes);
    store(fcinfo, &store_type_plan,
          "INSERT INTO chronicle.event_types AS t (type, type_version, schema, defined_at) "
          "VALUES ($1, $2, $3, pg_catalog.now()) "
          "ON CONFLICT ON CONSTRAINT event_types_pkey DO UPDATE "
          "SET schema = excluded.schema, defined_at = excluded.defined_at "
          "WHERE NOT (t.schema OPERATOR(pg_catalog.=) excluded.schema)",
          type, Int32GetDatum(version), JsonbPGetDatum(schema));
    PG_RETURN_VOID();
}

/* chronicle.define_upcaster(type text, from_version int, rules jsonb) */
SQL_FUNCTION(chronicle_define_upcaster)
{
    check_no_nulls(fcinfo, "chronicle.define_upcaster");
    const char *type = type_argument(PG_GETARG_DATUM(0));
    int32 from = PG_GETARG_INT32(1);
    Jsonb *rules = pg::guard([&] { return PG_GETARG_JSONB_P(2); });
    if (from < 1 || from == PG_INT32_MAX)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("from_version must be between 1 and %d, not %d", PG_INT32_MAX - 1, from));
    std::string what = pg::format("\"%s\" from type_version %d", type, from);
    types::compile_upcaster(rules, what.c_str());
    store(fcinfo, &store_upcaster_plan,
          "INSERT INTO chronicle.upcasters AS u (type, from_version, rules, defined_at) "
          "VALUES ($1, $2, $3, pg_catalog.now()) "
          "ON CONFLICT ON CONSTRAINT upcasters_pkey DO UPDATE "
          "SET rules = excluded.rules, defined_at = excluded.defined_at "
          "WHERE NOT (u.rules OPERATOR(pg_catalog.=) excluded.rules)",
          type, Int32GetDatum(from), JsonbPGetDatum(rules));
    PG_RETURN_VOID();
}

/* chronicle._check_event(type text, type_version int, data jsonb): true, or SE003. */
SQL_FUNCTION(chronicle_check_event)
{
    check_no_nulls(fcinfo, "chronicle._check_event");
    const char *type = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    Jsonb *data = pg::guard([&] { return PG_GETARG_JSONB_P(2); });
    check_event(type, PG_GETARG_INT32(1), data);
    PG_RETURN_BOOL(true);
}

/* chronicle._upcast(type text, type_version int, data jsonb, OUT type_version int, OUT data jsonb) */
SQL_FUNCTION(chronicle_upcast)
{
    check_no_nulls(fcinfo, "chronicle._upcast");
    const char *type = pg::guard([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    int32 version = PG_GETARG_INT32(1);
    Jsonb *data = pg::guard([&] { return PG_GETARG_JSONB_P(2); });
    Jsonb *result = upcast(type, &version, data);
    return pg::guard([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "chronicle._upcast must return a record");
        desc = BlessTupleDesc(desc);
        Datum values[2] = {Int32GetDatum(version), JsonbPGetDatum(result)};
        bool nulls[2] = {false, false};
        return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
}

/*
 * Trigger on chronicle.event_types and chronicle.upcasters: every change
 * (define functions, or the owner editing the tables) invalidates the caches
 * of all backends at commit, and this backend's at once.
 */
SQL_FUNCTION(chronicle_types_changed)
{
    pg::callbacks::invalidate_trigger_table(fcinfo, "chronicle._types_changed()");
    types::cache_changed_here();
    return PointerGetDatum(nullptr);
}
