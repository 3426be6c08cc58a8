/*
 * selftest.cpp: chronicle._boundary_selftest(), which exercises the C++/PostgreSQL
 * boundary of boundary.h from SQL so the regression suite can prove it: a
 * PostgreSQL error raised inside guarded code keeps its SQLSTATE and lets C++
 * destructors run; a C++ exception leaving an entry point becomes an ereport.
 */
#include "pg/boundary.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
}

namespace {

/* Objects alive and objects ever destroyed: equal counts prove unwinding ran. */
int64 live_objects = 0;
int64 destroyed_objects = 0;

/* Owns heap memory, so a skipped destructor would show as a live object. */
struct Tracked
{
    std::vector<std::string> payload;
    Tracked() : payload(16, std::string(64, 'x')) { ++live_objects; }
    ~Tracked()
    {
        --live_objects;
        ++destroyed_objects;
    }
    Tracked(const Tracked &) = delete;
    Tracked &operator=(const Tracked &) = delete;
};

Datum run_mode(const std::string &mode)
{
    auto outer = std::make_unique<Tracked>();
    Tracked inner;

    if (mode == "ok")
        return Int32GetDatum(static_cast<int32>(inner.payload.size()));
    if (mode == "pg_error")
    {
        /* int4in raises 22P02 through ereport: guard() turns it into PgError. */
        return pg::guard([] { return DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
    }
    if (mode == "domain_error")
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("selftest domain error with %s", "detail"), "raised in C++",
                        "this is the hint");
    if (mode == "bad_alloc")
        throw std::bad_alloc();
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                    pg::format("unknown selftest mode \"%s\"", mode.c_str()),
                    "Modes: ok, pg_error, domain_error, bad_alloc.");
}

} // namespace

SQL_FUNCTION(chronicle_boundary_selftest)
{
    if (PG_ARGISNULL(0))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "mode must not be NULL");
    char *mode = text_to_cstring(PG_GETARG_TEXT_PP(0));
    return run_mode(mode);
}

SQL_FUNCTION(chronicle_boundary_counters)
{
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "return type must be a row type");
    Datum values[2] = {Int64GetDatum(live_objects), Int64GetDatum(destroyed_objects)};
    bool nulls[2] = {false, false};
    return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}
