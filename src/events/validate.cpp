/*
 * validate.cpp: the argument rules of docs/reference/events.md, in one place, for
 * append, append_batch and the INSERT trigger.
 */
#include "events/events.h"
#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "access/tupmacs.h"
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "storage/proc.h"
}

#define STREAM_ID_MAX_CHARS 512
#define TYPE_MAX_CHARS 255

void events_check_stream_id(const char *stream_id, int len)
{
    if (len == 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "stream_id must not be empty");
    int chars = pg_mbstrlen_with_len(stream_id, len);
    if (chars > STREAM_ID_MAX_CHARS)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("stream_id is too long (%d characters)", chars),
                        pg::format("A stream_id has at most %d characters.", STREAM_ID_MAX_CHARS));
    bool utf8 = GetDatabaseEncoding() == PG_UTF8;
    for (int i = 0; i < len; i++)
    {
        unsigned char c = (unsigned char)stream_id[i];
        /* C0 controls and DEL; in UTF-8 also the C1 controls U+0080..U+009F. */
        bool control = c < 0x20 || c == 0x7f ||
                       (utf8 && c == 0xc2 && i + 1 < len &&
                        (unsigned char)stream_id[i + 1] >= 0x80 &&
                        (unsigned char)stream_id[i + 1] <= 0x9f);
        if (control)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "stream_id must not contain control characters",
                            pg::format("Control character at byte %d.", i + 1));
    }
}

void events_check_type(const char *type, int len)
{
    if (len == 0)
        throw pg::Error(CHRONICLE_INVALID_EVENT, "event type must not be empty");
    int chars = pg_mbstrlen_with_len(type, len);
    if (chars > TYPE_MAX_CHARS)
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("event type is too long (%d characters)", chars),
                        pg::format("An event type has at most %d characters.", TYPE_MAX_CHARS));
}

void events_check_object(Jsonb *value, const char *what)
{
    if (!JB_ROOT_IS_OBJECT(value) || JB_ROOT_IS_SCALAR(value))
    {
        const char *kind = JB_ROOT_IS_SCALAR(value) ? "a scalar"
                           : JB_ROOT_IS_ARRAY(value) ? "an array"
                                                     : "not an object";
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("event %s must be a JSON object, not %s", what, kind));
    }
}

int events_category_len(const char *stream_id, int len)
{
    const char *dash = (const char *)memchr(stream_id, '-', len);
    return dash ? (int)(dash - stream_id) : len;
}

#define TAGS_MAX 64
#define TAG_MAX_CHARS 255

/* C0 controls and DEL; in UTF-8 also the C1 controls U+0080..U+009F. */
static int control_at(const char *s, int len)
{
    bool utf8 = GetDatabaseEncoding() == PG_UTF8;
    for (int i = 0; i < len; i++)
    {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f ||
            (utf8 && c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
             (unsigned char)s[i + 1] <= 0x9f))
            return i;
    }
    return -1;
}

void events_check_tags(ArrayType *tags, const char *what, int base)
{
    if (ARR_NDIM(tags) > 1)
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("%s must be a one-dimensional array", what));
    if (ARR_NDIM(tags) == 1 && ARR_LBOUND(tags)[0] != 1)
        throw pg::Error(CHRONICLE_INVALID_EVENT,
                        pg::format("%s must start at subscript 1 (got %d)", what, ARR_LBOUND(tags)[0]),
                        "The log stores tags as given; an array with other bounds would read back with them.");
    if (ARR_HASNULL(tags))
        throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("%s must not contain NULL", what));
    int n = ARR_NDIM(tags) == 0 ? 0 : ARR_DIMS(tags)[0];
    if (n > TAGS_MAX)
        throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("%s has %d tags", what, n),
                        pg::format("An event has at most %d tags.", TAGS_MAX));
    const char *p = ARR_DATA_PTR(tags);
    for (int i = 0; i < n; i++)
    {
        text *t = (text *)p;
        const char *s = VARDATA_ANY(t);
        int len = VARSIZE_ANY_EXHDR(t);
        if (len == 0)
            throw pg::Error(CHRONICLE_INVALID_EVENT, pg::format("%s[%d] is an empty tag", what, i + base));
        int chars = pg_mbstrlen_with_len(s, len);
        if (chars > TAG_MAX_CHARS)
            throw pg::Error(CHRONICLE_INVALID_EVENT,
                            pg::format("%s[%d] is too long (%d characters)", what, i + base, chars),
                            pg::format("A tag has at most %d characters.", TAG_MAX_CHARS));
        int at = control_at(s, len);
        if (at >= 0)
            throw pg::Error(CHRONICLE_INVALID_EVENT,
                            pg::format("%s[%d] must not contain control characters", what, i + base),
                            pg::format("Control character at byte %d.", at + 1));
        /*
         * A tag given twice: an event's tags are a set that the log stores as
         * given (in the order given, covered by the hash chain), so a repeat is
         * refused rather than silently dropped.
         */
        const char *q = ARR_DATA_PTR(tags);
        for (int j = 0; j < i; j++)
        {
            const text *u = (const text *)q;
            if ((int)VARSIZE_ANY_EXHDR(u) == len && memcmp(VARDATA_ANY(u), s, len) == 0)
                throw pg::Error(CHRONICLE_INVALID_EVENT,
                                pg::format("%s[%d] repeats %s[%d]", what, i + base, what, j + base),
                                "An event carries each tag at most once.");
            q = att_addlength_pointer(q, -1, q);
            q = (const char *)att_align_nominal(q, TYPALIGN_INT);
        }
        p = att_addlength_pointer(p, -1, p);
        p = (const char *)att_align_nominal(p, TYPALIGN_INT);
    }
}

void events_check_searched_tag(const char *s, int len, const char *label)
{
    int chars = pg_mbstrlen_with_len(s, len);
    if (chars > TAG_MAX_CHARS)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("%s is too long (%d characters)", label, chars),
                        pg::format("A tag has at most %d characters.", TAG_MAX_CHARS));
    int at = control_at(s, len);
    if (at >= 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, pg::format("%s must not contain control characters", label),
                        pg::format("Control character at byte %d.", at + 1));
}

void events_check_query_tag(const char *s, int len, const char *what, int item, int index)
{
    events_check_searched_tag(s, len, pg::format("%s: items[%d].tags[%d]", what, item, index).c_str());
}

namespace {
struct ReceiptPermit
{
    bool active;
    LocalTransactionId lxid;
    SubTransactionId subxid;
};
ReceiptPermit receipt_permit;
} // namespace

void events_allow_receipt(void)
{
    receipt_permit.lxid = MyProc->lxid;
    receipt_permit.subxid = GetCurrentSubTransactionId();
    receipt_permit.active = true;
}

bool events_check_append_stream(const char *stream_id, int len)
{
    if (!event_row_is_receipt(stream_id, len))
        return false;
    bool allowed = receipt_permit.active && receipt_permit.lxid == MyProc->lxid &&
                   receipt_permit.subxid == GetCurrentSubTransactionId();
    receipt_permit.active = false; /* one append */
    if (!allowed)
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        pg::format("only chronicle.redact and chronicle.redact_tagged append to stream \"%.*s\"", len,
                                   stream_id),
                        "Its events are the erasure receipts verify() checks redacted events against.");
    return true;
}
