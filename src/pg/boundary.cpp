/*
 * boundary.cpp: the out-of-line half of boundary.h (see the rules there).
 */
#include "pg/boundary.h"

#include <cstdio>

extern "C" {
#include "mb/pg_wchar.h"
}

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

void copy_clipped(char *dst, size_t size, const char *src) noexcept
{
    size_t len = strlen(src);
    /* Cut at a character boundary: half a UTF-8 character is invalid text for the client. */
    if (len >= size)
        len = pg_mbcliplen(src, (int) Min(len, (size_t) PG_INT32_MAX), (int) size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void remember(CaughtError &caught, const Error &e) noexcept
{
    caught.kind = CaughtError::Domain;
    caught.code = e.code();
    copy_clipped(caught_message, sizeof(caught_message), e.what());
    copy_clipped(caught_detail, sizeof(caught_detail), e.detail().c_str());
    copy_clipped(caught_hint, sizeof(caught_hint), e.hint().c_str());
}

void remember(CaughtError &caught, const char *what) noexcept
{
    caught.kind = CaughtError::Unexpected;
    copy_clipped(caught_message, sizeof(caught_message), what ? what : "");
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
