/*
 * hash.cpp: one link of the per-stream SHA-256 chain, computed with
 * OpenSSL's EVP interface when the server is built with OpenSSL (as
 * PostgreSQL's own pg_cryptohash is), else with pg_cryptohash.
 * docs/design/erasure.md describes the encoding for users.
 *
 * Chain v2 (0.2.0):
 *
 *   content = sha256(u32 length, data's canonical text,
 *                    u32 length, metadata's canonical text)
 *   hash    = sha256(prev_hash || canonical_v2(row))
 *
 * prev_hash is empty for version 1.  canonical_v2(row) is, in this order:
 *   stream_id       u32 big-endian byte length, then its UTF-8 bytes
 *   version         i64 big-endian
 *   global_position i64 big-endian
 *   event_id        the 16 bytes of the uuid
 *   type            u32 length, bytes
 *   type_version    i32 big-endian (the stored version, never an upcasted one)
 *   recorded_at     i64 big-endian microseconds since 2000-01-01 00:00 UTC
 *   tx_id           u64 big-endian (the full transaction id, epoch included)
 *   tags            u32 count, then per tag (stored order) u32 length, bytes
 *   content         the 32 bytes of the content digest above
 * The canonical text of a jsonb value is its text output (keys sorted and
 * deduplicated by jsonb, ", " and ": " separators); it does not depend on the
 * server's binary layout, so a chain can be checked anywhere.  The chain
 * reaches data and metadata only through the content digest: a redacted event
 * keeps the digest of its original content (column original_digest), so its link
 * still verifies while the erased values are gone.
 *
 * Chain v1 (0.1.0), kept to check a 0.1.0 log before the upgrade re-chains it:
 *   hash = sha256(prev_hash || stream_id, version, event_id, type,
 *                 type_version, u32 length + data text, u32 length + metadata
 *                 text, recorded_at), fields encoded as above.
 */
#include "events/events.h"

extern "C" {
#include "access/tupmacs.h"
#include "common/cryptohash.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
}

#ifdef USE_OPENSSL
#include <openssl/evp.h>
#endif

namespace {

void put_u32(StringInfo buf, uint32 v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    appendBinaryStringInfo(buf, (const char *)b, 4);
}

void put_u64(StringInfo buf, uint64 v)
{
    put_u32(buf, (uint32)(v >> 32));
    put_u32(buf, (uint32)v);
}

void put_bytes(StringInfo buf, const char *data, size_t len)
{
    put_u32(buf, (uint32)len);
    appendBinaryStringInfo(buf, data, (int)len);
}

void put_jsonb(StringInfo buf, Jsonb *value)
{
    /* Reserve the length, write the text in place, then fill the length in. */
    int at = buf->len;
    put_u32(buf, 0);
    int start = buf->len;
    JsonbToCString(buf, &value->root, VARSIZE(value));
    uint32 len = (uint32)(buf->len - start);
    unsigned char *p = (unsigned char *)buf->data + at;
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
}

void put_tags(StringInfo buf, ArrayType *tags)
{
    if (tags == NULL || ARR_NDIM(tags) == 0)
    {
        put_u32(buf, 0);
        return;
    }
    /* text[] without NULLs (the table's check); walk the elements in place. */
    int n = ArrayGetNItems(ARR_NDIM(tags), ARR_DIMS(tags));
    put_u32(buf, (uint32)n);
    const char *p = ARR_DATA_PTR(tags);
    bits8 *bitmap = ARR_NULLBITMAP(tags);
    for (int i = 0; i < n; i++)
    {
        if (bitmap && !(bitmap[i / 8] & (1 << (i % 8))))
        {
            put_u32(buf, 0xFFFFFFFFu); /* a NULL tag: distinct from every string */
            continue;
        }
        text *t = (text *)p;
        put_bytes(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
        p = att_addlength_pointer(p, -1, p);
        p = (const char *)att_align_nominal(p, TYPALIGN_INT);
    }
}

#ifdef USE_OPENSSL
/*
 * OpenSSL directly, with one digest context per backend kept for its
 * lifetime and the SHA-256 implementation fetched once: pg_cryptohash
 * creates a context (and, under OpenSSL 3, looks the algorithm up) per hash,
 * which cost chain v2 (two hashes per event) more than the hashing itself.
 */
EVP_MD_CTX *sha_ctx;
const EVP_MD *sha_md;

void sha256(const char *data, size_t len, uint8 *out)
{
    if (sha_ctx == NULL)
    {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
        sha_md = EVP_sha256();
#endif
        sha_ctx = sha_md ? EVP_MD_CTX_new() : NULL;
        if (sha_ctx == NULL)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                            errmsg("could not set up SHA-256 for the event hash chain")));
    }
    unsigned int n = 0;
    if (EVP_DigestInit_ex(sha_ctx, sha_md, NULL) != 1 || EVP_DigestUpdate(sha_ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(sha_ctx, out, &n) != 1 || n != EVENTS_HASH_LEN)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not compute SHA-256 of an event")));
}
#else
void sha256(const char *data, size_t len, uint8 *out)
{
    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, (const uint8 *)data, len) < 0 ||
        pg_cryptohash_final(ctx, out, EVENTS_HASH_LEN) < 0)
    {
        const char *why = ctx ? pg_cryptohash_error(ctx) : "out of memory";
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not compute SHA-256 of an event: %s", why)));
    }
    pg_cryptohash_free(ctx);
}
#endif

} // namespace

void events_sha256(const char *data, size_t len, uint8 *out)
{
    sha256(data, len, out);
}

void events_content_digest(Jsonb *data, Jsonb *metadata, uint8 *out)
{
    StringInfoData buf;
    initStringInfo(&buf);
    put_jsonb(&buf, data);
    put_jsonb(&buf, metadata);
    sha256(buf.data, buf.len, out);
    pfree(buf.data);
}

void events_hash(const uint8 *prev_hash, size_t prev_len, const EventsLink *row, uint8 *out)
{
    StringInfoData buf;
    initStringInfo(&buf);
    if (prev_len > 0)
        appendBinaryStringInfo(&buf, (const char *)prev_hash, (int)prev_len);
    put_bytes(&buf, row->stream_id, row->stream_len);
    put_u64(&buf, (uint64)row->version);
    put_u64(&buf, (uint64)row->global_position);
    appendBinaryStringInfo(&buf, (const char *)row->event_id->data, UUID_LEN);
    put_bytes(&buf, row->type, row->type_len);
    put_u32(&buf, (uint32)row->type_version);
    put_u64(&buf, (uint64)row->recorded_at);
    put_u64(&buf, row->tx_id);
    put_tags(&buf, row->tags);
    appendBinaryStringInfo(&buf, (const char *)row->content, EVENTS_HASH_LEN);
    sha256(buf.data, buf.len, out);
    pfree(buf.data);
}

void events_hash_v1(const uint8 *prev_hash, size_t prev_len, const char *stream_id,
                    size_t stream_len, int64 version, const pg_uuid_t *event_id, const char *type,
                    size_t type_len, int32 type_version, Jsonb *data, Jsonb *metadata,
                    TimestampTz recorded_at, uint8 *out)
{
    StringInfoData buf;
    initStringInfo(&buf);
    if (prev_len > 0)
        appendBinaryStringInfo(&buf, (const char *)prev_hash, (int)prev_len);
    put_bytes(&buf, stream_id, stream_len);
    put_u64(&buf, (uint64)version);
    appendBinaryStringInfo(&buf, (const char *)event_id->data, UUID_LEN);
    put_bytes(&buf, type, type_len);
    put_u32(&buf, (uint32)type_version);
    put_jsonb(&buf, data);
    put_jsonb(&buf, metadata);
    put_u64(&buf, (uint64)recorded_at);
    sha256(buf.data, buf.len, out);
    pfree(buf.data);
}
