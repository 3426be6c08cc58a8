/*
 * hash.cpp: one link of the per-stream SHA-256 chain, computed with
 * PostgreSQL's pg_cryptohash (OpenSSL when the server is built with it).
 *
 *   hash = sha256(prev_hash || canonical(row))
 *
 * prev_hash is empty for version 1.  canonical(row) is, in this order:
 *   stream_id     u32 big-endian byte length, then its UTF-8 bytes
 *   version       i64 big-endian
 *   event_id      the 16 bytes of the uuid
 *   type          u32 length, bytes
 *   type_version  i32 big-endian (the stored version, never an upcasted one)
 *   data          u32 length, then jsonb's canonical text output (keys sorted
 *                 and deduplicated by jsonb, ", " and ": " separators)
 *   metadata      u32 length, canonical text
 *   recorded_at   i64 big-endian microseconds since 2000-01-01 00:00 UTC
 * Lengths make the encoding unambiguous; the text form of jsonb does not
 * depend on the server's binary layout, so a chain can be checked anywhere.
 */
#include "events/events.h"

extern "C" {
#include "common/cryptohash.h"
#include "lib/stringinfo.h"
}

static void put_u32(StringInfo buf, uint32 v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    appendBinaryStringInfo(buf, (const char *)b, 4);
}

static void put_u64(StringInfo buf, uint64 v)
{
    put_u32(buf, (uint32)(v >> 32));
    put_u32(buf, (uint32)v);
}

static void put_bytes(StringInfo buf, const char *data, size_t len)
{
    put_u32(buf, (uint32)len);
    appendBinaryStringInfo(buf, data, (int)len);
}

static void put_jsonb(StringInfo buf, Jsonb *value)
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

void events_hash(const uint8 *prev_hash, size_t prev_len, const char *stream_id,
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

    pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
    if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, (const uint8 *)buf.data, buf.len) < 0 ||
        pg_cryptohash_final(ctx, out, EVENTS_HASH_LEN) < 0)
    {
        const char *why = ctx ? pg_cryptohash_error(ctx) : "out of memory";
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("could not compute SHA-256 of an event: %s", why)));
    }
    pg_cryptohash_free(ctx);
    pfree(buf.data);
}
