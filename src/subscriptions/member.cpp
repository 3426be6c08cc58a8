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
 * (sql/subscriptions.sql checks the two agree).  The bytes hashed are the
 * id's UTF-8 encoding whatever the database's encoding, as in that formula:
 * a LATIN1 database, or one restored from it into UTF-8, must hand a stream
 * to the same member (sql/subscriptions_hostile.sql).
 */
#include "pg/boundary.h"

extern "C" {
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"
}

namespace {

/* The stream's 32-bit hash: SHA-256's first four bytes, big-endian. */
uint32 stream_hash(const char *stream_id, int len)
{
    /*
     * Hash UTF-8.  In a UTF-8 database the id already is; SQL_ASCII bytes
     * have no known encoding and are hashed as they are.  Any other server
     * encoding is converted (a character without a Unicode mapping, possible
     * only in a few legacy encodings, is PostgreSQL's 22P05).
     */
    char *utf8 = NULL;
    int encoding = GetDatabaseEncoding();
    if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII)
    {
        char *converted = pg_server_to_any(stream_id, len, PG_UTF8);
        if (converted != stream_id)
        {
            utf8 = converted;
            stream_id = converted;
            len = (int)strlen(converted);
        }
    }
    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, (const uint8 *)stream_id, len) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
    {
        const char *why = ctx ? pg_cryptohash_error(ctx) : "out of memory";
        elog(ERROR, "chronicle: SHA-256 failed: %s", why);
    }
    pg_cryptohash_free(ctx);
    if (utf8 != NULL)
        pfree(utf8);
    return ((uint32)digest[0] << 24) | ((uint32)digest[1] << 16) | ((uint32)digest[2] << 8) | digest[3];
}

/*
 * A poll with a group tests every event it reads with this function, and a
 * SHA-256 through pg_cryptohash costs about 1.7 us (most of it setting up the
 * digest context).  A stream's hash never changes, whatever the group size,
 * so a direct-mapped cache per backend keeps recent ones: keyed by
 * PostgreSQL's fast in-memory hash, the stored id compared in full (a
 * collision only costs a SHA-256).  2048 slots of 80 bytes, allocated on
 * first use, so only backends that poll groups pay for it.
 */
const int CACHE_SLOTS = 2048;
const int CACHE_MAX_KEY = 72; /* longer ids are hashed every time */

struct CacheSlot
{
    int32 len; /* -1: empty */
    uint32 hash;
    char key[CACHE_MAX_KEY];
};

CacheSlot *cache;

uint32 cached_hash(text *stream_id)
{
    const char *key = VARDATA_ANY(stream_id);
    int len = VARSIZE_ANY_EXHDR(stream_id);
    if (len > CACHE_MAX_KEY)
        return stream_hash(key, len);
    if (cache == NULL)
    {
        CacheSlot *slots = (CacheSlot *)MemoryContextAlloc(TopMemoryContext, sizeof(CacheSlot) * CACHE_SLOTS);
        for (int i = 0; i < CACHE_SLOTS; i++)
            slots[i].len = -1;
        cache = slots;
    }
    CacheSlot *slot = &cache[hash_bytes((const unsigned char *)key, len) % CACHE_SLOTS];
    if (slot->len == len && memcmp(slot->key, key, len) == 0)
        return slot->hash;
    uint32 hash = stream_hash(key, len);
    slot->len = len;
    slot->hash = hash;
    memcpy(slot->key, key, len);
    return hash;
}

} // namespace

/* chronicle._stream_member(stream_id text, members int) RETURNS int, STRICT */
SQL_FUNCTION(chronicle_stream_member)
{
    int32 members = PG_GETARG_INT32(1);
    if (members < 1)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        pg::format("members must be at least 1 (got %d)", members));
    return Int32GetDatum((int32)(cached_hash(PG_GETARG_TEXT_PP(0)) % (uint32)members));
}
