/*
 * dcb_locks.cpp: the heavyweight locks that make append_events' condition
 * race-free (docs/reference/dcb.md; the reasoning is in docs/design/dcb.md).
 *
 * Keys are advisory locks of the current database whose first two fields are
 * a 64-bit hash of the event type or tag, and whose fourth field tells them
 * apart from the user's own advisory locks (pg_advisory_lock uses 1 and 2):
 * DCB_TYPE_SPACE for a type, DCB_TAG_SPACE for a tag, DCB_WIDE_SPACE for the
 * one "wide" key.  A hash collision can only make two appends wait for each
 * other; it never lets a condition pass.
 *
 * One call (append, append_batch, append_events) gathers every key it needs
 * into a DcbKeySet first and takes them together, in ONE order (level 5 of
 * docs/design/locking.md):
 *
 *   1. the wide key: RowExclusiveLock for a conditional append; ShareLock
 *      for a writer past WRITER_KEY_BUDGET shared keys in its transaction
 *      (it then takes no shared keys); ShareRowExclusiveLock when both;
 *   2. the type and tag keys, sorted by (space, hash): ExclusiveLock on a
 *      condition's keys, ShareLock on the key of each written event's type
 *      and tags (ExclusiveLock alone when a key is both).
 *
 * Share does not conflict with Share (plain appends never wait on each
 * other), Exclusive conflicts with Share and Exclusive, RowExclusive
 * conflicts with Share but not with itself (conditions never wait on each
 * other through the wide key); ShareRowExclusive conflicts with all three.
 * All are transaction locks.  Because no call takes a key after waiting for
 * a greater one, two calls that each hold what the other wants cannot exist
 * (a conditional append whose condition covers what another writes, and
 * vice versa, queues behind it on the first key they share).
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
int keys_taken;         /* shared keys this transaction took (an upper bound) */
LOCKMODE wide_mode = NoLock; /* the wide key's mode this transaction took */

void key_tag(LOCKTAG *tag, const char *s, int len, uint16 space)
{
    uint64 h = hash_bytes_extended((const unsigned char *)s, len, space);
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32)(h >> 32), (uint32)h, space);
}

void wide_tag(LOCKTAG *tag)
{
    SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0, 0, DCB_WIDE_SPACE);
}

int compare_tags(const void *a, const void *b)
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

/* Ascending key, ExclusiveLock before ShareLock on the same key. */
int compare_keys(const void *a, const void *b)
{
    const DcbLockKey *x = (const DcbLockKey *)a, *y = (const DcbLockKey *)b;
    int c = compare_tags(&x->tag, &y->tag);
    if (c != 0)
        return c;
    return (y->mode > x->mode) - (y->mode < x->mode);
}

void add_key(DcbKeySet *set, const char *s, int len, uint16 space, LOCKMODE mode)
{
    if (set->n == set->max)
    {
        set->max = set->max * 2;
        set->keys = (DcbLockKey *)repalloc(set->keys, sizeof(DcbLockKey) * set->max);
    }
    key_tag(&set->keys[set->n].tag, s, len, space);
    set->keys[set->n++].mode = mode;
}

/* Does the transaction hold the wide key in a mode that covers ShareLock's conflicts? */
bool wide_share_held()
{
    if (wide_mode != ShareLock && wide_mode != ShareRowExclusiveLock)
        return false;
    LOCKTAG wide;
    wide_tag(&wide);
    /* Not if a rolled-back subtransaction took it (and released it). */
    if (LockHeldByMe(&wide, wide_mode))
        return true;
    wide_mode = NoLock;
    keys_taken = WRITER_KEY_BUDGET; /* still over budget: take it again */
    return false;
}

} // namespace

void events_keys_init(DcbKeySet *set, int expected)
{
    set->n = 0;
    set->max = Max(expected, 4);
    set->keys = (DcbLockKey *)palloc(sizeof(DcbLockKey) * set->max);
}

void events_keys_written(DcbKeySet *set, const char *type, int type_len, ArrayType *tags)
{
    add_key(set, type, type_len, DCB_TYPE_SPACE, ShareLock);
    if (tags == NULL || ARR_NDIM(tags) == 0)
        return;
    int n = ARR_DIMS(tags)[0];
    const char *p = ARR_DATA_PTR(tags);
    for (int i = 0; i < n; i++)
    {
        text *t = (text *)p;
        add_key(set, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), DCB_TAG_SPACE, ShareLock);
        p = att_addlength_pointer(p, -1, p);
        p = (const char *)att_align_nominal(p, TYPALIGN_INT);
    }
}

void events_keys_condition(DcbKeySet *set, const char *s, int len, bool is_tag)
{
    add_key(set, s, len, is_tag ? DCB_TAG_SPACE : DCB_TYPE_SPACE, ExclusiveLock);
}

void events_keys_lock(DcbKeySet *set, bool conditional)
{
    if (budget_xact != MyProc->lxid)
    {
        budget_xact = MyProc->lxid;
        keys_taken = 0;
        wide_mode = NoLock;
    }
    /* Sorted, duplicates merged: one entry per key, ExclusiveLock if any is. */
    if (set->n > 1)
        qsort(set->keys, set->n, sizeof(DcbLockKey), compare_keys);
    int n = 0, shared = 0;
    for (int i = 0; i < set->n; i++)
    {
        if (n > 0 && compare_tags(&set->keys[n - 1].tag, &set->keys[i].tag) == 0)
            continue; /* the first of a key has the strongest mode */
        set->keys[n] = set->keys[i];
        shared += set->keys[n].mode == ShareLock;
        n++;
    }
    set->n = n;

    /* 1. The wide key. */
    bool skip_shared = wide_share_held();
    bool take_wide_share = false;
    if (!skip_shared && shared > 0 && keys_taken + shared > WRITER_KEY_BUDGET)
    {
        /* Over budget, unless most of these are held already (only then is it worth counting). */
        int fresh = 0;
        for (int i = 0; i < n; i++)
            fresh += set->keys[i].mode == ShareLock && !LockHeldByMe(&set->keys[i].tag, ShareLock) &&
                     !LockHeldByMe(&set->keys[i].tag, ExclusiveLock);
        take_wide_share = keys_taken + fresh > WRITER_KEY_BUDGET;
    }
    LOCKMODE wide = conditional ? (take_wide_share ? ShareRowExclusiveLock : RowExclusiveLock)
                                : (take_wide_share ? ShareLock : NoLock);
    if (wide != NoLock)
    {
        LOCKTAG tag;
        wide_tag(&tag);
        (void)LockAcquire(&tag, wide, false, false);
        if (take_wide_share)
        {
            wide_mode = wide;
            skip_shared = true;
        }
    }

    /* 2. The keys, in ascending order. */
    for (int i = 0; i < n; i++)
    {
        if (set->keys[i].mode == ShareLock && skip_shared)
            continue;
        if (LockAcquire(&set->keys[i].tag, set->keys[i].mode, false, false) == LOCKACQUIRE_OK &&
            set->keys[i].mode == ShareLock)
            keys_taken++;
    }
}

/* One row of a direct INSERT by the owner: its keys, as one call. */
void events_lock_written(const char *type, int type_len, ArrayType *tags)
{
    DcbKeySet set;
    events_keys_init(&set, 1 + (tags != NULL && ARR_NDIM(tags) > 0 ? ARR_DIMS(tags)[0] : 0));
    events_keys_written(&set, type, type_len, tags);
    events_keys_lock(&set, false);
}
