/*
 * boundary.h: where C++ meets PostgreSQL.
 *
 * PostgreSQL reports errors with ereport(ERROR), which longjmp()s to the
 * nearest sigsetjmp(); C++ reports errors with exceptions, which unwind the
 * stack and run destructors.  Mixed carelessly, a longjmp skips destructors
 * (leaks, locks left held, corrupted containers) and an exception that reaches
 * PostgreSQL's C frames terminates the backend.  The rules for every file in
 * chronicle:
 *
 *  1. Every SQL-callable function is declared with SQL_FUNCTION(name) (below),
 *     which makes it extern "C" with PG_FUNCTION_INFO_V1 and runs its body
 *     inside pg::entry().  entry() catches every C++ exception and raises the
 *     matching ereport only after the catch block has ended (messages are
 *     copied into static storage first), so the exception object is destroyed
 *     before the longjmp.  C-style code that calls into C++-style code (not
 *     through SQL) goes through pg::c_entry(), the same catch for any result.
 *
 *  2. A PostgreSQL call that can ereport(ERROR) must not jump over a C++ frame
 *     that owns an object with a non-trivial destructor (std::string,
 *     std::vector, smart pointers, ...).  Either keep such frames free of those
 *     objects (plain palloc'd data, as in C), or make the call through
 *     pg::guard(), which runs it under PG_TRY, restores the memory context,
 *     copies the error and rethrows it as pg::PgError so the stack unwinds
 *     normally.  entry() rethrows the original error (same SQLSTATE, message,
 *     detail) once the C++ frames are gone.
 *
 *  3. A caught pg::PgError must always propagate to entry(); never swallow it.
 *     The transaction is in an error state until the error is rethrown and
 *     PostgreSQL aborts it (that is what releases locks, buffers and SPI).
 *
 *  4. Domain errors raised from C++ code use `throw pg::Error(code, ...)`,
 *     never ereport(), so they unwind like any other exception.  Code in frames
 *     without destructors (rule 2) may use ereport() directly.
 *
 *  5. Memory that outlives a call lives in a PostgreSQL memory context;
 *     never delete what palloc gave, never pfree what new gave.
 *
 * Rule 2 is kept in one of two ways, chosen per module and stated once at the
 * top of the module's main header:
 *
 *   C-style    No frame owns a C++ object with a destructor (plain values,
 *              palloc'd memory), so any PostgreSQL call may ereport anywhere,
 *              and any function of the module may ereport.  A pg::Error
 *              (whose text is a std::string) is built only after the
 *              PostgreSQL calls that feed its text, right where it is thrown.
 *   C++-style  Frames may own std::string, std::vector and the like; every
 *              PostgreSQL call that can ereport runs under pg::guard(), so
 *              errors arrive as C++ exceptions.  C-style callers reach such a
 *              module through pg::c_entry().
 *
 * src/pg itself: boundary and selftest are C++-style; spi.h, callbacks.h,
 * result_memory.h and jsonb_root.h are C-style.
 *
 * This header includes nothing else of chronicle.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

#include <cstdarg>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace pg {

/* A PostgreSQL error caught by guard(), carried through C++ frames. */
class PgError : public std::exception
{
public:
    explicit PgError(ErrorData *edata) : edata_(edata) {}
    const char *what() const noexcept override
    {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }
    ErrorData *data() const noexcept { return edata_; }

private:
    ErrorData *edata_; /* palloc'd in the caller's memory context */
};

/* A chronicle domain error: a SQLSTATE and a message (detail and hint optional). */
class Error : public std::exception
{
public:
    Error(int sqlerrcode, std::string message, std::string detail = {}, std::string hint = {})
        : code_(sqlerrcode), message_(std::move(message)), detail_(std::move(detail)),
          hint_(std::move(hint))
    {
    }
    const char *what() const noexcept override { return message_.c_str(); }
    int code() const noexcept { return code_; }
    const std::string &detail() const noexcept { return detail_; }
    const std::string &hint() const noexcept { return hint_; }

private:
    int code_;
    std::string message_;
    std::string detail_;
    std::string hint_;
};

/* printf-style formatting into a std::string, for building Error messages. */
std::string format(const char *fmt, ...) pg_attribute_printf(1, 2);

/*
 * Run fn, which calls PostgreSQL and may ereport(ERROR), so that an error
 * becomes a C++ PgError instead of a longjmp over C++ frames.  A C++
 * exception thrown by fn itself is carried out of the PG_TRY block first, so
 * PostgreSQL's exception stack is restored before anything unwinds.  fn itself
 * must not own C++ objects with destructors (a PostgreSQL error longjmps out of
 * it); keep it to a few calls on plain values.
 */
template <typename Fn>
auto guard(Fn &&fn) -> decltype(fn())
{
    using Result = decltype(fn());
    static_assert(std::is_void_v<Result> || std::is_scalar_v<Result>,
                  "guard() returns plain values (Datum, pointers, numbers)");
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData *volatile edata = nullptr;
    std::exception_ptr cxx_error;
    /* volatile: assigned between sigsetjmp and a possible longjmp. */
    volatile std::conditional_t<std::is_void_v<Result>, int, Result> result{};

    PG_TRY();
    {
        try
        {
            if constexpr (std::is_void_v<Result>)
                fn();
            else
                result = fn();
        }
        catch (...)
        {
            cxx_error = std::current_exception();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();

    if (edata)
        throw PgError(edata);
    if (cxx_error)
        std::rethrow_exception(cxx_error);
    if constexpr (!std::is_void_v<Result>)
        return result;
}

/* What entry() caught, reported once the catch block is left. */
struct CaughtError
{
    enum Kind
    {
        None,
        Postgres,
        Domain,
        OutOfMemory,
        Unexpected
    } kind = None;
    ErrorData *edata = nullptr;
    int code = 0;
};

/*
 * Copy src into dst (size bytes), cut at a character boundary if it is
 * longer; raises nothing.
 */
void copy_clipped(char *dst, size_t size, const char *src) noexcept;

/* Copies e's text into static buffers; raises nothing. */
void remember(CaughtError &caught, const Error &e) noexcept;
void remember(CaughtError &caught, const char *what) noexcept;

/* Raise the ereport for what entry() caught.  Never returns. */
pg_attribute_noreturn() void raise(const CaughtError &caught);

/*
 * Run C++-style code for a C caller: whatever fn returns, or, if it throws,
 * the matching ereport(ERROR) once the C++ frames have unwound (rule 1).
 */
template <typename Fn>
auto c_entry(Fn &&fn) -> decltype(fn())
{
    CaughtError caught;
    try
    {
        return fn();
    }
    catch (const PgError &e)
    {
        caught.kind = CaughtError::Postgres;
        caught.edata = e.data();
    }
    catch (const Error &e)
    {
        remember(caught, e);
    }
    catch (const std::bad_alloc &)
    {
        caught.kind = CaughtError::OutOfMemory;
    }
    catch (const std::exception &e)
    {
        remember(caught, e.what());
    }
    catch (...)
    {
        remember(caught, "unknown C++ exception");
    }
    raise(caught);
}

/* The wrapper around every SQL-callable function body (rule 1). */
template <typename Body>
Datum entry(Body &&body)
{
    return c_entry([&]() -> Datum { return body(); });
}

} // namespace pg

/*
 * SQL_FUNCTION(name) defines the SQL-callable C function `name` (rule 1):
 *
 *     SQL_FUNCTION(chronicle_version)
 *     {
 *         return CStringGetTextDatum(CHRONICLE_VERSION);
 *     }
 *
 * expands to PG_FUNCTION_INFO_V1(name); the extern "C" function `name`
 * (the symbol CREATE FUNCTION ... AS 'MODULE_PATHNAME', 'name' finds), whose
 * whole body is pg::entry() around name_body(fcinfo); and the head of the
 * file-local name_body, which sees `fcinfo` as any V1 function does and
 * returns its Datum.  Use it at file scope, outside any namespace.
 */
#define SQL_FUNCTION(name)                                                        \
    static Datum name##_body(FunctionCallInfo fcinfo);                            \
    extern "C" {                                                                  \
    PG_FUNCTION_INFO_V1(name);                                                    \
    Datum name(PG_FUNCTION_ARGS)                                                  \
    {                                                                             \
        return ::pg::entry([&]() -> Datum { return name##_body(fcinfo); });       \
    }                                                                             \
    }                                                                             \
    static Datum name##_body(FunctionCallInfo fcinfo)
