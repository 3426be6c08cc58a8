/*
 * formats.cpp: the `format` keyword's checkers.  Each is a strict parser of the
 * text form the format's RFC defines; PostgreSQL's own input functions are not
 * used because they accept far more (date_in takes "Jan 5 2026" and "epoch",
 * uuid_in takes braces and missing hyphens), which a schema must reject.
 */
#include "types/schema.h"

extern "C" {
#include "utils/datetime.h"
}

namespace types {

namespace {

bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++)
    {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 5322 atext. */
bool is_atext(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr);
}

/* full-date = date-fullyear "-" date-month "-" date-mday, a real calendar day. */
bool parse_date(const char *s, int len)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1)
        return false;
    return d <= day_tab[isleap(y) ? 1 : 0][m - 1];
}

} // namespace

bool is_date(const char *s, int len)
{
    return parse_date(s, len);
}

/*
 * date-time = full-date "T" partial-time time-offset (RFC 3339 section 5.6;
 * "T" and "Z" in either case).  A leap second (:60) is accepted only where one
 * can occur: at 23:59 UTC.
 */
bool is_date_time(const char *s, int len)
{
    int h, mi, sec;
    if (len < 20 || !parse_date(s, 10) || (s[10] != 'T' && s[10] != 't'))
        return false;
    const char *t = s + 11;
    if (!digits(t, 2, &h) || t[2] != ':' || !digits(t + 3, 2, &mi) || t[5] != ':' ||
        !digits(t + 6, 2, &sec))
        return false;
    if (h > 23 || mi > 59 || sec > 60)
        return false;
    int pos = 19;
    if (pos < len && s[pos] == '.')
    {
        int start = ++pos;
        while (pos < len && s[pos] >= '0' && s[pos] <= '9')
            pos++;
        if (pos == start)
            return false;
    }
    if (pos >= len)
        return false;
    int offset_minutes = 0;
    if (s[pos] == 'Z' || s[pos] == 'z')
    {
        if (pos + 1 != len)
            return false;
    }
    else if (s[pos] == '+' || s[pos] == '-')
    {
        int oh, om;
        if (len - pos != 6 || !digits(s + pos + 1, 2, &oh) || s[pos + 3] != ':' ||
            !digits(s + pos + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_minutes = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
    }
    else
        return false;
    if (sec == 60)
    {
        int utc = ((h * 60 + mi - offset_minutes) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

/* 8-4-4-4-12 hexadecimal digits, either case (RFC 4122 section 3). */
bool is_uuid(const char *s, int len)
{
    if (len != 36)
        return false;
    for (int i = 0; i < 36; i++)
    {
        bool hyphen = (i == 8 || i == 13 || i == 18 || i == 23);
        if (hyphen ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

/*
 * Mailbox of RFC 5321 restricted to its common form: a dot-atom local part
 * (at most 64 bytes) "@" a host name of letters, digits and inner hyphens
 * (labels of 1..63, at most 253 bytes in all).  Quoted local parts and
 * address literals ("[192.0.2.1]") are not accepted.
 */
bool is_email(const char *s, int len)
{
    const char *at = static_cast<const char *>(memchr(s, '@', len));
    if (!at || len > 254)
        return false;
    int local_len = at - s;
    const char *domain = at + 1;
    int domain_len = len - local_len - 1;
    if (local_len < 1 || local_len > 64 || domain_len < 1 || domain_len > 253)
        return false;

    bool after_dot = true; /* at the start, a dot is as wrong as after a dot */
    for (int i = 0; i < local_len; i++)
    {
        if (s[i] == '.')
        {
            if (after_dot)
                return false;
            after_dot = true;
        }
        else if (is_atext(s[i]))
            after_dot = false;
        else
            return false;
    }
    if (after_dot)
        return false;

    int label = 0;
    for (int i = 0; i < domain_len; i++)
    {
        char c = domain[i];
        if (c == '.')
        {
            if (label == 0 || domain[i - 1] == '-')
                return false;
            label = 0;
        }
        else if (is_alnum(c) || (c == '-' && label > 0))
        {
            if (++label > 63)
                return false;
        }
        else
            return false;
    }
    return label > 0 && domain[domain_len - 1] != '-';
}

} // namespace types
