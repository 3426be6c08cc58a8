/*
 * dcb_locks.cpp: the heavyweight locks that make append_events' condition
 * race-free (SPEC section 2b; the reasoning is in docs/design/dcb.md).
 *
 * Keys are advisory locks of the current database whose first two fields are
 * a 64-bit hash of the event type or tag, and whose fourth field tells them
 * apart from the user's own advisory locks (pg_advisory_lock uses 1 and 2):
 * DCB_TYPE_SPACE for a type, DCB_TAG_SPACE for a tag, DCB_WIDE_SPACE for the
 * one "wide" key.  A hash collision can only make two appends wait for each
 * other; it never lets a condition pass.
 *
 *   writer (every append)       ShareLock on the key of each event's type
 *                               and of each of its tags, before it writes;
 *                               past WRITER_KEY_BUDGET keys in one
 *                               transaction, ShareLock on the wide key instead
 *   condition (append_events)   RowExclusiveLock on the wide key, then
 *                               ExclusiveLock on one key per condition item
 *
 * Share does not conflict with Share (plain appends never wait on each
 * other), Exclusive conflicts with Share and Exclusive, RowExclusive
 * conflicts with Share but not with itself (conditions never wait on each
 * other through the wide key).  All are transaction locks.
 */
#include "events/events.h"

extern "C" {
#include "access/tupmacs.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
}

#define DCB_TYPE_SPACE 0x4441 /* pg_locks.objsubid 17473 */
#define DCB_TAG_SPACE 0x4442  /* 17474 */
#define DCB_WIDE_SPACE 0x4443 /* 17475 */
/* Distinct shared keys one transaction takes before it switches to the wide key. */
#define WRITER_KEY_BUDGET 64

namespace {

LocalTransactionId budget_xact = InvalidLocalTransactionId;
int keys_taken;
bool wide_held;

void key_tag(LOCKTAG *tag, const char *s, int len, uint16 space)
{
    uint64 h = hash_bytes_extended((const unsigned char *)s, len, space);
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32)(h >> 32), (uint32)h, space);
}

void lock_wide(LOCKMODE mode)
{
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, DCB_WIDE_SPACE);
    (void)LockAcquire(&tag, mode, false, false);
}

/* A writer's shared key, within the transaction's budget. */
void lock_shared(const char *s, int len, uint16 space)
{
    if (budget_xact != MyProc->lxid)
    {
        budget_xact = MyProc->lxid;
        keys_taken = 0;
        wide_held = false;
    }
    /* Held unless a rolled-back subtransaction took it (and released it). */
    if (wide_held)
    {
        LOCKTAG wide;
        SET_LOCKTAG_ADVISORY(wide, MyDatabaseId, 0, 0, DCB_WIDE_SPACE);
        if (LockHeldByMe(&wide, ShareLock))
            return;
        wide_held = false;
        keys_taken = WRITER_KEY_BUDGET; /* still over budget: take it again */
    }
    LOCKTAG tag;
    key_tag(&tag, s, len, space);
    if (keys_taken >= WRITER_KEY_BUDGET)
    {
        if (LockHeldByMe(&tag, ShareLock))
            return;
        lock_wide(ShareLock);
        wide_held = true;
        return;
    }
    if (LockAcquire(&tag, ShareLock, false, false) == LOCKACQUIRE_OK)
        keys_taken++;
}

} // namespace

void events_lock_written(const char *type, int type_len, ArrayType *tags)
{
    lock_shared(type, type_len, DCB_TYPE_SPACE);
    if (tags == NULL || ARR_NDIM(tags) == 0)
        return;
    int n = ARR_DIMS(tags)[0];
    const char *p = ARR_DATA_PTR(tags);
    for (int i = 0; i < n; i++)
    {
        text *t = (text *)p;
        lock_shared(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), DCB_TAG_SPACE);
        p = att_addlength_pointer(p, -1, p);
        p = (const char *)att_align_nominal(p, TYPALIGN_INT);
    }
}

static int compare_tags(const void *a, const void *b)
{
    const LOCKTAG *x = (const LOCKTAG *)a, *y = (const LOCKTAG *)b;
    if (x->locktag_field4 != y->locktag_field4)
        return x->locktag_field4 < y->locktag_field4 ? -1 : 1;
    if (x->locktag_field2 != y->locktag_field2)
        return x->locktag_field2 < y->locktag_field2 ? -1 : 1;
    if (x->locktag_field3 != y->locktag_field3)
        return x->locktag_field3 < y->locktag_field3 ? -1 : 1;
    return 0;
}

/*
 * Sorted, so that two conditional appends over the same keys never deadlock
 * by taking them in different orders.
 */
void events_lock_condition(const DcbKey *keys, int n)
{
    lock_wide(RowExclusiveLock);
    LOCKTAG *tags = (LOCKTAG *)palloc(sizeof(LOCKTAG) * Max(n, 1));
    for (int i = 0; i < n; i++)
        key_tag(&tags[i], keys[i].s, keys[i].len, keys[i].is_tag ? DCB_TAG_SPACE : DCB_TYPE_SPACE);
    qsort(tags, n, sizeof(LOCKTAG), compare_tags);
    for (int i = 0; i < n; i++)
        if (i == 0 || compare_tags(&tags[i - 1], &tags[i]) != 0)
            (void)LockAcquire(&tags[i], ExclusiveLock, false, false);
    pfree(tags);
}
