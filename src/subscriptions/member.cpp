/*
 * member.cpp: chronicle._stream_member(stream_id, members), the consumer-group
 * member that receives a stream.
 *
 * The hash must give the same member for a stream in every session, on every
 * platform and under every PostgreSQL version, or a group would hand a stream
 * to two members after an upgrade or a failover to another architecture.
 * hashtext() (and hash partitioning's hash) is internal to PostgreSQL and
 * may change with a major version; a hash defined by a standard does not:
 * the first four bytes of SHA-256(stream_id) as an unsigned big-endian
 * integer, mod members.  Any client can compute it, in SQL:
 *   ('x' || left(encode(sha256(convert_to(stream_id, 'UTF8')), 'hex'), 8))::bit(32)::bigint % members
 * (sql/subscriptions.sql checks the two agree).
 */
#include "pg/boundary.h"

extern "C" {
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(chronicle_stream_member);
}

namespace {

/* C-style (may ereport): no C++ objects in this frame. */
int32 stream_member(text *stream_id, int32 members)
{
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, (const uint8 *)VARDATA_ANY(stream_id), VARSIZE_ANY_EXHDR(stream_id)) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
    {
        const char *why = ctx ? pg_cryptohash_error(ctx) : "out of memory";
        elog(ERROR, "chronicle: SHA-256 failed: %s", why);
    }
    pg_cryptohash_free(ctx);
    uint32 h = ((uint32)digest[0] << 24) | ((uint32)digest[1] << 16) | ((uint32)digest[2] << 8) | digest[3];
    return (int32)(h % (uint32)members);
}

/*
 * A poll with a group filters every event of the page through this function,
 * and consecutive events often share a stream (a batch, a busy stream).  A
 * small direct-mapped cache per call site (fn_extra, in the call's function
 * memory) keeps recent answers, keyed by PostgreSQL's fast in-memory hash;
 * the stored key is compared in full, so a collision only costs a SHA-256.
 */
const int CACHE_SLOTS = 256;
const int CACHE_MAX_KEY = 128; /* longer ids are hashed every time */

struct MemberCache
{
    int32 members;
    struct Slot
    {
        int len; /* -1: empty */
        int32 member;
        char key[CACHE_MAX_KEY];
    } slots[CACHE_SLOTS];
};

int32 cached_member(FunctionCallInfo fcinfo, text *stream_id, int32 members)
{
    const char *key = VARDATA_ANY(stream_id);
    int len = VARSIZE_ANY_EXHDR(stream_id);
    if (len > CACHE_MAX_KEY || fcinfo->flinfo == NULL)
        return stream_member(stream_id, members);
    MemberCache *cache = (MemberCache *)fcinfo->flinfo->fn_extra;
    if (cache == NULL || cache->members != members)
    {
        if (cache == NULL)
            cache = (MemberCache *)MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MemberCache));
        cache->members = members;
        for (int i = 0; i < CACHE_SLOTS; i++)
            cache->slots[i].len = -1;
        fcinfo->flinfo->fn_extra = cache;
    }
    MemberCache::Slot *slot = &cache->slots[hash_bytes((const unsigned char *)key, len) % CACHE_SLOTS];
    if (slot->len == len && memcmp(slot->key, key, len) == 0)
        return slot->member;
    int32 member = stream_member(stream_id, members);
    slot->len = len;
    slot->member = member;
    memcpy(slot->key, key, len);
    return member;
}

} // namespace

/* chronicle._stream_member(stream_id text, members int) RETURNS int, STRICT */
Datum chronicle_stream_member(PG_FUNCTION_ARGS)
{
    return pg::entry([&]() -> Datum {
        int32 members = PG_GETARG_INT32(1);
        if (members < 1)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            pg::format("members must be at least 1 (got %d)", members));
        return Int32GetDatum(cached_member(fcinfo, PG_GETARG_TEXT_PP(0), members));
    });
}
