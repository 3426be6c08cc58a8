/*
 * pending.cpp: the rows chronicle.append is inserting at this moment.  The
 * BEFORE INSERT trigger on chronicle.events accepts a row only if it is one of
 * these (same stream, version and the hash append computed) or if it passes
 * the full version and hash check, so an owner's hand-made INSERT cannot slip
 * through.  The record is tied to the (sub)transaction that made it: after an
 * error it is dead even if nobody cleared it.
 */
#include "events/events.h"

extern "C" {
#include "access/xact.h"
#include "storage/proc.h"
#include "utils/memutils.h"
}

namespace {

struct Pending
{
    bool active;
    LocalTransactionId lxid;
    SubTransactionId subxid;
    char *stream_id; /* in TopMemoryContext, grown as needed */
    int stream_len;
    int stream_cap;
    int64 first_version;
    int count;
    uint8 *hashes;
    int hashes_cap;
};

Pending pending;

} // namespace

void events_pending_set(const char *stream_id, int stream_len, int64 first_version, int count,
                        const uint8 *hashes)
{
    pending.active = false;
    if (pending.stream_cap < stream_len + 1)
    {
        char *grown = (char *)MemoryContextAlloc(TopMemoryContext, stream_len + 1);
        if (pending.stream_id)
            pfree(pending.stream_id);
        pending.stream_id = grown;
        pending.stream_cap = stream_len + 1;
    }
    if (pending.hashes_cap < count)
    {
        uint8 *grown = (uint8 *)MemoryContextAlloc(TopMemoryContext, (Size)count * EVENTS_HASH_LEN);
        if (pending.hashes)
            pfree(pending.hashes);
        pending.hashes = grown;
        pending.hashes_cap = count;
    }
    memcpy(pending.stream_id, stream_id, stream_len);
    pending.stream_len = stream_len;
    memcpy(pending.hashes, hashes, (Size)count * EVENTS_HASH_LEN);
    pending.first_version = first_version;
    pending.count = count;
    pending.lxid = MyProc->lxid;
    pending.subxid = GetCurrentSubTransactionId();
    pending.active = true;
}

void events_pending_clear(void)
{
    pending.active = false;
}

bool events_pending_match(const char *stream_id, int stream_len, int64 version, const uint8 *hash)
{
    if (!pending.active || pending.lxid != MyProc->lxid ||
        pending.subxid != GetCurrentSubTransactionId())
        return false;
    if (stream_len != pending.stream_len || memcmp(stream_id, pending.stream_id, stream_len) != 0)
        return false;
    if (version < pending.first_version || version >= pending.first_version + pending.count)
        return false;
    return memcmp(hash, pending.hashes + (version - pending.first_version) * EVENTS_HASH_LEN,
                  EVENTS_HASH_LEN) == 0;
}

/*
 * The one row update chronicle itself makes to chronicle.events: redact's
 * (new data and metadata) or the 0.1.0 upgrade's re-chaining (new hash).
 * Like the pending rows above it lives in backend memory only, is tied to
 * the (sub)transaction that set it and to one (stream, version), and is
 * spent by the first update it allows; the immutability trigger also checks
 * that every other column is unchanged and that the changed ones hold
 * exactly the values given here.  No SQL can set it.
 */
namespace {

struct Permit
{
    bool active;
    EventsPermitKind kind;
    LocalTransactionId lxid;
    SubTransactionId subxid;
    MemoryContext cxt; /* child of TopTransactionContext, holds the copies */
    char *stream_id;
    int stream_len;
    int64 version;
    Jsonb *data;
    Jsonb *metadata;
    uint8 hash[EVENTS_HASH_LEN];
};

Permit permit;

} // namespace

void events_permit_set(EventsPermitKind kind, const char *stream_id, int stream_len, int64 version,
                       Jsonb *data, Jsonb *metadata, const uint8 *hash)
{
    permit.active = false;
    if (permit.cxt && permit.lxid == MyProc->lxid)
        MemoryContextReset(permit.cxt);
    else
        permit.cxt = AllocSetContextCreate(TopTransactionContext, "chronicle permit",
                                           ALLOCSET_SMALL_SIZES);
    permit.kind = kind;
    permit.stream_id = (char *)MemoryContextAlloc(permit.cxt, stream_len + 1);
    memcpy(permit.stream_id, stream_id, stream_len);
    permit.stream_len = stream_len;
    permit.version = version;
    permit.data = NULL;
    permit.metadata = NULL;
    if (kind == EVENTS_PERMIT_REDACT)
    {
        permit.data = (Jsonb *)MemoryContextAlloc(permit.cxt, VARSIZE(data));
        memcpy(permit.data, data, VARSIZE(data));
        permit.metadata = (Jsonb *)MemoryContextAlloc(permit.cxt, VARSIZE(metadata));
        memcpy(permit.metadata, metadata, VARSIZE(metadata));
    }
    else
        memcpy(permit.hash, hash, EVENTS_HASH_LEN);
    permit.lxid = MyProc->lxid;
    permit.subxid = GetCurrentSubTransactionId();
    permit.active = true;
}

void events_permit_clear(void)
{
    permit.active = false;
}

bool events_permit_take(const char *stream_id, int stream_len, int64 version, EventsPermitKind *kind,
                        Jsonb **data, Jsonb **metadata, const uint8 **hash)
{
    if (!permit.active || permit.lxid != MyProc->lxid ||
        permit.subxid != GetCurrentSubTransactionId())
        return false;
    if (stream_len != permit.stream_len || memcmp(stream_id, permit.stream_id, stream_len) != 0 ||
        version != permit.version)
        return false;
    permit.active = false; /* one row */
    *kind = permit.kind;
    *data = permit.data;
    *metadata = permit.metadata;
    *hash = permit.hash;
    return true;
}
