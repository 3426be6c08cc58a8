/*
 * node.h: a mutable JSON tree in a PostgreSQL memory context, the state a
 * reducer builds up event by event.
 *
 * jsonb is immutable: changing one key means rebuilding the whole value, so
 * a replay that re-serialised its state per event would cost O(events *
 * state).  The tree is changed in place instead and serialised once, at the
 * end.  Replaced values are pfree'd at once, so a long replay keeps its
 * memory at O(state) however many events it applies.  Every function may
 * ereport (out of memory, stack depth).
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

enum NodeKind : uint8
{
    NODE_NULL,
    NODE_BOOL,
    NODE_NUMERIC,
    NODE_STRING,
    NODE_ARRAY,
    NODE_OBJECT
};

struct JNode;

struct JNodePair
{
    char *key;
    int keylen;
    JNode *value;
};

struct JNode
{
    NodeKind kind;
    bool boolean;
    int len;          /* string length, or number of elements / pairs */
    int cap;          /* allocated elements / pairs, or bytes of numeric */
    union {
        Numeric numeric;
        char *string; /* not NUL-terminated */
        JNode **items; /* NODE_ARRAY */
        JNodePair *pairs; /* NODE_OBJECT, sorted in jsonb key order */
    };
};

/*
 * memcmp's order for the short strings of keys and event types, inline: a
 * call per comparison is most of what a lookup costs when keys are a few
 * bytes long.
 */
static inline int node_bytes_cmp(const char *a, const char *b, int len)
{
    if (len > 16)
        return memcmp(a, b, len);
    for (int i = 0; i < len; i++)
        if (a[i] != b[i])
            return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
    return 0;
}

/* A deep copy of a JSON value (scalar or container) into cxt. */
JNode *node_from_jbv(const JsonbValue *v, MemoryContext cxt);
JNode *node_from_jsonb(Jsonb *jb, MemoryContext cxt);
JNode *node_new_object(MemoryContext cxt);
JNode *node_new_array(MemoryContext cxt);
JNode *node_new_numeric(Numeric n, MemoryContext cxt);
/* Replace a numeric node's value, reusing its buffer when the value fits. */
void node_set_numeric(JNode *n, Numeric num, MemoryContext cxt);

/* pfree n and everything below it. */
void node_free(JNode *n);

/* Object access.  node_slot inserts a NULL value when the key is missing. */
JNode *node_get(const JNode *obj, const char *key, int keylen);
JNode **node_slot(JNode *obj, const char *key, int keylen, MemoryContext cxt);
void node_remove(JNode *obj, const char *key, int keylen);

void node_push(JNode *arr, JNode *item, MemoryContext cxt);

/*
 * RFC 7396 merge patch: returns target patched by patch (target is changed
 * in place, or freed and replaced; NULL means "no value").  null members of
 * the patch remove keys.
 */
JNode *node_merge(JNode *target, const JsonbValue *patch, MemoryContext cxt);

/* Serialise into CurrentMemoryContext. */
Jsonb *node_to_jsonb(const JNode *n);

/* "an object", "an array", "a string", ... for messages. */
const char *node_kind_name(NodeKind kind);
const char *jbv_kind_name(const JsonbValue *v);
