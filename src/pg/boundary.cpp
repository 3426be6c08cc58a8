/*
 * boundary.cpp: the out-of-line half of boundary.h (see the rules there).
 */
#include "pg/boundary.h"

#include <cstdio>

namespace pg {

std::string format(const char *fmt, ...)
{
    char small[256];
    va_list args;

    va_start(args, fmt);
    int needed = vsnprintf(small, sizeof(small), fmt, args);
    va_end(args);
    if (needed < 0)
        return std::string(fmt);
    if (static_cast<size_t>(needed) < sizeof(small))
        return std::string(small, needed);

    std::string out(static_cast<size_t>(needed), '\0');
    va_start(args, fmt);
    vsnprintf(out.data(), out.size() + 1, fmt, args);
    va_end(args);
    return out;
}

/*
 * Messages of C++ exceptions are copied here inside the catch block, because
 * the exception object (and the std::string it owns) is destroyed when the
 * block ends, and ereport() must run after that.  Static storage: a backend is
 * single-threaded and raise() consumes the text before anything can overwrite it.
 */
static char caught_message[2048];
static char caught_detail[2048];
static char caught_hint[1024];

void remember(CaughtError &caught, const Error &e) noexcept
{
    caught.kind = CaughtError::Domain;
    caught.code = e.code();
    strlcpy(caught_message, e.what(), sizeof(caught_message));
    strlcpy(caught_detail, e.detail().c_str(), sizeof(caught_detail));
    strlcpy(caught_hint, e.hint().c_str(), sizeof(caught_hint));
}

void remember(CaughtError &caught, const char *what) noexcept
{
    caught.kind = CaughtError::Unexpected;
    strlcpy(caught_message, what ? what : "", sizeof(caught_message));
    caught_detail[0] = '\0';
    caught_hint[0] = '\0';
}

void raise(const CaughtError &caught)
{
    switch (caught.kind)
    {
    case CaughtError::Postgres:
        ReThrowError(caught.edata);
        break;
    case CaughtError::Domain:
        ereport(ERROR,
                (errcode(caught.code), errmsg_internal("%s", caught_message),
                 caught_detail[0] ? errdetail_internal("%s", caught_detail) : 0,
                 caught_hint[0] ? errhint("%s", caught_hint) : 0));
        break;
    case CaughtError::OutOfMemory:
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in chronicle")));
        break;
    case CaughtError::Unexpected:
    case CaughtError::None:
        break;
    }
    /* A bug, not a user error: report it as one. */
    ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                    errmsg("unexpected C++ exception in chronicle: %s", caught_message)));
    pg_unreachable();
}

} // namespace pg
