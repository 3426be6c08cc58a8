/*
 * states.cpp: the last state each backend computed per (reducer, stream),
 * so that the append observer applies only the new events.
 *
 * A committed state of a stream at version V stays right for as long as
 * the reducer's revision, its function and the upcasters do not change:
 * events are immutable and versions contiguous.  So the observer remembers
 * the state it computed, first as pending (its transaction may roll back),
 * promoted when the transaction commits and dropped when it (or any of its
 * subtransactions) aborts; the next append to that stream in this backend
 * starts the replay there, through replay_start_hook, instead of at
 * version 1, and applies the events after V (this append's, and any that
 * other backends appended meanwhile).
 *
 * The cache is a direct-mapped table of SLOTS entries (a collision replaces
 * the older entry) holding states of up to MAX_STATE bytes, BUDGET bytes in
 * all; the pending list has the same bounds, one entry per key.  A generation
 * counter, bumped by the invalidations that can change a replay's result
 * (define/drop/rebuild of a projection, the upcasters, any function), makes
 * every entry stale at once without freeing anything in a callback.
 *
 * The hook chains to the one installed before it (the snapshots module's),
 * and answers only for the replay the observer armed it for.
 */
#include "pg/callbacks.h"
#include "projections/projections.h"

#include "replay/replay.h"

extern "C" {
#include "access/xact.h"
#include "common/hashfn.h"
#include "utils/memutils.h"
}

static const int SLOTS = 1024;
static const Size MAX_STATE = 64 * 1024;
/* What the slots may hold in all, per backend. */
static const Size BUDGET = 4 * 1024 * 1024;

struct State
{
    uint64 generation;
    uint32 hash;
    char *reducer;
    Oid who;         /* the role the replay ran as (observer.cpp): a function
                      * reducer's result may depend on it */
    int32 revision;
    text *stream;
    int64 version;
    Jsonb *state; /* NULL: a function reducer's NULL state */
    State *next;  /* pending list */
};

static MemoryContext cxt = nullptr;
static State *slots[SLOTS];
static State *pending = nullptr;
/* The pending list is bounded like the slots: one entry per key, at most
 * SLOTS entries and BUDGET bytes. */
static int pending_count = 0;
static Size pending_bytes = 0;
static uint64 generation = 1;
static Size slot_bytes = 0;
static bool flush = false; /* slots to free at the next states_remember */
static replay_start_hook_type prev_hook = nullptr;

/* What the observer armed the hook with, for one replay_stream call. */
static const State *armed = nullptr;

static uint32 key_hash(const char *reducer, Oid who, const text *stream)
{
    uint32 h = hash_combine(hash_bytes(reinterpret_cast<const unsigned char *>(reducer), strlen(reducer)),
                            murmurhash32(who));
    return hash_combine(h, hash_bytes(reinterpret_cast<const unsigned char *>(VARDATA_ANY(stream)),
                                      VARSIZE_ANY_EXHDR(stream)));
}

static bool same_stream(const State *s, uint32 hash, const char *reducer, Oid who, const text *stream)
{
    return s->hash == hash && s->who == who && strcmp(s->reducer, reducer) == 0 &&
           VARSIZE_ANY_EXHDR(s->stream) == VARSIZE_ANY_EXHDR(stream) &&
           memcmp(VARDATA_ANY(s->stream), VARDATA_ANY(stream), VARSIZE_ANY_EXHDR(stream)) == 0;
}

static bool same_key(const State *s, uint32 hash, const char *reducer, Oid who, const text *stream)
{
    return s->generation == generation && same_stream(s, hash, reducer, who, stream);
}

static Size state_bytes(const State *s)
{
    return sizeof(State) + (s->state ? VARSIZE(s->state) : 0) + VARSIZE_ANY(s->stream);
}

static void free_state(State *s)
{
    if (s->state)
        pfree(s->state);
    pfree(s->stream);
    pfree(s->reducer);
    pfree(s);
}

static void drop_pending(void)
{
    while (pending)
    {
        State *next = pending->next;
        free_state(pending);
        pending = next;
    }
    pending_count = 0;
    pending_bytes = 0;
}

static bool start_hook(text *stream_id, const char *reducer, int32 revision, const ReplayBounds *bounds,
                       Jsonb **state, int64 *version)
{
    const State *s = armed;
    armed = nullptr;
    if (s && !bounds->has_version && !bounds->has_time && s->revision == revision &&
        s->generation == generation && same_key(s, s->hash, reducer, s->who, stream_id))
    {
        if (s->state)
        {
            *state = static_cast<Jsonb *>(palloc(VARSIZE(s->state)));
            memcpy(*state, s->state, VARSIZE(s->state));
        }
        else
            *state = nullptr;
        *version = s->version;
        return true;
    }
    return prev_hook ? prev_hook(stream_id, reducer, revision, bounds, state, version) : false;
}

uint64 states_arm(text *stream, const char *reducer, Oid who, int64 version)
{
    armed = nullptr;
    uint32 hash = key_hash(reducer, who, stream);
    for (const State *s = pending; s; s = s->next)
        if (same_key(s, hash, reducer, who, stream))
        {
            if (s->version <= version)
                armed = s;
            return generation; /* the newest pending one is this transaction's view */
        }
    const State *s = slots[hash % SLOTS];
    /* Older than the stream (another backend appended since) is fine: the
     * replay applies every event after it. */
    if (s && same_key(s, hash, reducer, who, stream) && s->version <= version)
        armed = s;
    return generation;
}

void states_disarm(void)
{
    armed = nullptr;
}

void states_remember(text *stream, const char *reducer, Oid who, int32 revision, int64 version,
                     const Jsonb *state, uint64 since)
{
    if (flush)
    {
        /* Stale since states_reset: give their memory back. */
        for (int i = 0; i < SLOTS; i++)
            if (slots[i])
            {
                free_state(slots[i]);
                slots[i] = nullptr;
            }
        slot_bytes = 0;
        flush = false;
        /* Every pending state predates the reset too (only this function
         * adds them, after this block). */
        drop_pending();
    }
    /*
     * Only the newest pending state of a key is ever used (states_arm, the
     * commit): the older one goes.  Keeping them all made a transaction of
     * many appends hold a copy of the state per append (30 MB for 3,000
     * appends of a 10 kB state, without bound); and past the bounds a new
     * key is not remembered (its next replay starts from the slot, a
     * snapshot or version 1: slower, never wrong).
     */
    uint32 hash = key_hash(reducer, who, stream);
    for (State **link = &pending; *link; link = &(*link)->next)
        if (same_stream(*link, hash, reducer, who, stream))
        {
            State *old = *link;
            *link = old->next;
            pending_count--;
            pending_bytes -= state_bytes(old);
            free_state(old);
            break;
        }
    /*
     * A definition changed while the replay ran (its reads processed the
     * invalidation): the events before it were applied with the old one,
     * and the start state too.  Remembered with the new generation, it was
     * the start of every later append of the session (spec
     * projections_states_upcaster); not remembered, the next replay starts
     * over (a snapshot, or version 1) with the new definitions.
     */
    if (since != generation)
        return;
    if (state && VARSIZE(state) > MAX_STATE)
        return;
    Size bytes = sizeof(State) + (state ? VARSIZE(state) : 0) + VARSIZE_ANY(stream);
    if (pending_count >= SLOTS || pending_bytes + bytes > BUDGET)
        return;
    if (!cxt)
        cxt = AllocSetContextCreate(TopMemoryContext, "chronicle projection states", ALLOCSET_DEFAULT_SIZES);
    State *s = static_cast<State *>(MemoryContextAllocZero(cxt, sizeof(State)));
    s->generation = generation;
    s->hash = hash;
    s->reducer = MemoryContextStrdup(cxt, reducer);
    s->who = who;
    s->revision = revision;
    s->stream = static_cast<text *>(MemoryContextAlloc(cxt, VARSIZE_ANY(stream)));
    memcpy(s->stream, stream, VARSIZE_ANY(stream));
    s->version = version;
    if (state)
    {
        s->state = static_cast<Jsonb *>(MemoryContextAlloc(cxt, VARSIZE(state)));
        memcpy(s->state, state, VARSIZE(state));
    }
    /* Newest first: states_arm takes the first match. */
    s->next = pending;
    pending = s;
    pending_count++;
    pending_bytes += state_bytes(s);
}

void states_reset(void)
{
    generation++;
    flush = true;
}

/* Promotion moves pointers only: nothing may fail once a transaction committed. */
static void xact_callback(XactEvent event, void *)
{
    armed = nullptr;
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
    {
        /* Oldest first, so that a stream's newest state ends in its slot. */
        State *reversed = nullptr;
        while (pending)
        {
            State *next = pending->next;
            pending->next = reversed;
            reversed = pending;
            pending = next;
        }
        while (reversed)
        {
            State *next = reversed->next;
            reversed->next = nullptr;
            State **slot = &slots[reversed->hash % SLOTS];
            Size old_bytes = *slot ? state_bytes(*slot) : 0;
            if (reversed->generation != generation || slot_bytes - old_bytes + state_bytes(reversed) > BUDGET)
                free_state(reversed); /* stale, or full: keep what is there */
            else
            {
                if (*slot)
                    free_state(*slot);
                slot_bytes += state_bytes(reversed) - old_bytes;
                *slot = reversed;
            }
            reversed = next;
        }
        pending_count = 0;
        pending_bytes = 0;
    }
    else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
        drop_pending(); /* a prepared transaction may still roll back */
}

static void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *)
{
    /* Which pending states the subtransaction wrote is not worth tracking. */
    if (event == SUBXACT_EVENT_ABORT_SUB)
    {
        armed = nullptr;
        drop_pending();
    }
}

void states_init(void)
{
    prev_hook = replay_start_hook;
    replay_start_hook = start_hook;
    pg::callbacks::on_xact(xact_callback, nullptr);
    pg::callbacks::on_subxact(subxact_callback, nullptr);
}
