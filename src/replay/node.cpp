/*
 * node.cpp: the mutable JSON tree of node.h.
 */
#include "replay/node.h"

extern "C" {
#include "miscadmin.h"
}

/* jsonb's own key order: shorter keys first, then bytewise. */
static int key_cmp(const char *a, int alen, const char *b, int blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return node_bytes_cmp(a, b, alen);
}

static JNode *node_alloc(NodeKind kind, MemoryContext cxt)
{
    JNode *n = static_cast<JNode *>(MemoryContextAllocZero(cxt, sizeof(JNode)));
    n->kind = kind;
    return n;
}

JNode *node_new_object(MemoryContext cxt)
{
    return node_alloc(NODE_OBJECT, cxt);
}

JNode *node_new_array(MemoryContext cxt)
{
    return node_alloc(NODE_ARRAY, cxt);
}

JNode *node_new_numeric(Numeric num, MemoryContext cxt)
{
    JNode *n = node_alloc(NODE_NUMERIC, cxt);
    node_set_numeric(n, num, cxt);
    return n;
}

void node_set_numeric(JNode *n, Numeric num, MemoryContext cxt)
{
    Size size = VARSIZE(num);
    if (!n->numeric || static_cast<Size>(n->cap) < size)
    {
        if (n->numeric)
            pfree(n->numeric);
        /* Room to grow a little: running totals change length slowly. */
        n->cap = static_cast<int>(size + 8);
        n->numeric = static_cast<Numeric>(MemoryContextAlloc(cxt, n->cap));
    }
    memcpy(n->numeric, num, size);
}

static JNode *node_scalar(const JsonbValue *v, MemoryContext cxt)
{
    JNode *n;
    switch (v->type)
    {
    case jbvNull:
        return node_alloc(NODE_NULL, cxt);
    case jbvBool:
        n = node_alloc(NODE_BOOL, cxt);
        n->boolean = v->val.boolean;
        return n;
    case jbvNumeric:
        return node_new_numeric(v->val.numeric, cxt);
    case jbvString:
        n = node_alloc(NODE_STRING, cxt);
        n->len = v->val.string.len;
        n->string = static_cast<char *>(MemoryContextAlloc(cxt, n->len > 0 ? n->len : 1));
        memcpy(n->string, v->val.string.val, n->len);
        return n;
    default:
        elog(ERROR, "chronicle: unexpected jsonb value type %d", (int) v->type);
    }
    return nullptr;
}

/* Append a pair whose key sorts after every existing key (iterator order). */
static void append_pair(JNode *obj, const char *key, int keylen, JNode *value, MemoryContext cxt)
{
    if (obj->len == obj->cap)
    {
        int cap = obj->cap ? obj->cap * 2 : 4;
        obj->pairs = static_cast<JNodePair *>(
            obj->pairs ? repalloc(obj->pairs, cap * sizeof(JNodePair))
                       : MemoryContextAlloc(cxt, cap * sizeof(JNodePair)));
        obj->cap = cap;
    }
    JNodePair *p = &obj->pairs[obj->len++];
    p->key = static_cast<char *>(MemoryContextAlloc(cxt, keylen > 0 ? keylen : 1));
    memcpy(p->key, key, keylen);
    p->keylen = keylen;
    p->value = value;
}

/* Iterative, so that deeply nested data cannot exhaust the C stack here. */
static JNode *node_from_container(JsonbContainer *c, MemoryContext cxt)
{
    JsonbValue v;
    if (JsonContainerIsScalar(c))
    {
        JsonbExtractScalar(c, &v);
        return node_scalar(&v, cxt);
    }

    int depth = 0, cap = 16;
    JNode **stack = static_cast<JNode **>(palloc(cap * sizeof(JNode *)));
    char *key = nullptr;
    int keylen = 0;
    JNode *root = nullptr;
    JsonbIterator *it = JsonbIteratorInit(c);
    JsonbIteratorToken tok;

    while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
    {
        JNode *made = nullptr;
        switch (tok)
        {
        case WJB_BEGIN_ARRAY:
            made = node_new_array(cxt);
            break;
        case WJB_BEGIN_OBJECT:
            made = node_new_object(cxt);
            break;
        case WJB_KEY:
            key = v.val.string.val;
            keylen = v.val.string.len;
            continue;
        case WJB_VALUE:
        case WJB_ELEM:
            made = node_scalar(&v, cxt);
            break;
        case WJB_END_ARRAY:
        case WJB_END_OBJECT:
            depth--;
            continue;
        default:
            continue;
        }
        if (depth == 0)
            root = made;
        else if (stack[depth - 1]->kind == NODE_ARRAY)
            node_push(stack[depth - 1], made, cxt);
        else
            append_pair(stack[depth - 1], key, keylen, made, cxt);
        if (made->kind == NODE_ARRAY || made->kind == NODE_OBJECT)
        {
            if (depth == cap)
            {
                cap *= 2;
                stack = static_cast<JNode **>(repalloc(stack, cap * sizeof(JNode *)));
            }
            stack[depth++] = made;
        }
    }
    pfree(stack);
    return root;
}

JNode *node_from_jbv(const JsonbValue *v, MemoryContext cxt)
{
    if (v->type == jbvBinary)
        return node_from_container(v->val.binary.data, cxt);
    if (v->type == jbvArray || v->type == jbvObject)
    {
        /* An unpacked container: serialise it once and copy that. */
        Jsonb *jb = JsonbValueToJsonb(const_cast<JsonbValue *>(v));
        return node_from_container(&jb->root, cxt);
    }
    return node_scalar(v, cxt);
}

JNode *node_from_jsonb(Jsonb *jb, MemoryContext cxt)
{
    return node_from_container(&jb->root, cxt);
}

void node_free(JNode *n)
{
    if (!n)
        return;
    check_stack_depth();
    switch (n->kind)
    {
    case NODE_NUMERIC:
        pfree(n->numeric);
        break;
    case NODE_STRING:
        pfree(n->string);
        break;
    case NODE_ARRAY:
        for (int i = 0; i < n->len; i++)
            node_free(n->items[i]);
        if (n->items)
            pfree(n->items);
        break;
    case NODE_OBJECT:
        for (int i = 0; i < n->len; i++)
        {
            pfree(n->pairs[i].key);
            node_free(n->pairs[i].value);
        }
        if (n->pairs)
            pfree(n->pairs);
        break;
    default:
        break;
    }
    pfree(n);
}

/* Binary search: the index of key, or -(insertion point) - 1. */
static int find_key(const JNode *obj, const char *key, int keylen)
{
    int lo = 0, hi = obj->len - 1;
    while (lo <= hi)
    {
        int mid = lo + (hi - lo) / 2;
        int c = key_cmp(obj->pairs[mid].key, obj->pairs[mid].keylen, key, keylen);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

JNode *node_get(const JNode *obj, const char *key, int keylen)
{
    int i = find_key(obj, key, keylen);
    return i >= 0 ? obj->pairs[i].value : nullptr;
}

JNode **node_slot(JNode *obj, const char *key, int keylen, MemoryContext cxt)
{
    int i = find_key(obj, key, keylen);
    if (i >= 0)
        return &obj->pairs[i].value;
    i = -i - 1;
    append_pair(obj, key, keylen, nullptr, cxt);
    JNodePair added = obj->pairs[obj->len - 1];
    memmove(&obj->pairs[i + 1], &obj->pairs[i], (obj->len - 1 - i) * sizeof(JNodePair));
    obj->pairs[i] = added;
    return &obj->pairs[i].value;
}

void node_remove(JNode *obj, const char *key, int keylen)
{
    int i = find_key(obj, key, keylen);
    if (i < 0)
        return;
    pfree(obj->pairs[i].key);
    node_free(obj->pairs[i].value);
    memmove(&obj->pairs[i], &obj->pairs[i + 1], (obj->len - 1 - i) * sizeof(JNodePair));
    obj->len--;
}

void node_push(JNode *arr, JNode *item, MemoryContext cxt)
{
    if (arr->len == arr->cap)
    {
        int cap = arr->cap ? arr->cap * 2 : 4;
        arr->items = static_cast<JNode **>(arr->items ? repalloc(arr->items, cap * sizeof(JNode *))
                                                     : MemoryContextAlloc(cxt, cap * sizeof(JNode *)));
        arr->cap = cap;
    }
    arr->items[arr->len++] = item;
}

static bool jbv_is_object(const JsonbValue *v)
{
    return v->type == jbvObject ||
           (v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data));
}

JNode *node_merge(JNode *target, const JsonbValue *patch, MemoryContext cxt)
{
    check_stack_depth();
    if (!jbv_is_object(patch))
    {
        node_free(target);
        return node_from_jbv(patch, cxt);
    }
    if (patch->type == jbvObject)
    {
        Jsonb *jb = JsonbValueToJsonb(const_cast<JsonbValue *>(patch));
        JsonbValue bin;
        bin.type = jbvBinary;
        bin.val.binary.data = &jb->root;
        bin.val.binary.len = VARSIZE(jb) - VARHDRSZ;
        return node_merge(target, &bin, cxt);
    }
    if (!target || target->kind != NODE_OBJECT)
    {
        node_free(target);
        target = node_new_object(cxt);
    }

    JsonbIterator *it = JsonbIteratorInit(patch->val.binary.data);
    JsonbValue v;
    JsonbIteratorToken tok;
    const char *key = nullptr;
    int keylen = 0;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
    {
        if (tok == WJB_KEY)
        {
            key = v.val.string.val;
            keylen = v.val.string.len;
        }
        else if (tok == WJB_VALUE)
        {
            if (v.type == jbvNull)
                node_remove(target, key, keylen);
            else
            {
                JNode **slot = node_slot(target, key, keylen, cxt);
                *slot = node_merge(*slot, &v, cxt);
            }
        }
    }
    return target;
}

static void scalar_jbv(const JNode *n, JsonbValue *v)
{
    switch (n->kind)
    {
    case NODE_NULL:
        v->type = jbvNull;
        break;
    case NODE_BOOL:
        v->type = jbvBool;
        v->val.boolean = n->boolean;
        break;
    case NODE_NUMERIC:
        v->type = jbvNumeric;
        v->val.numeric = n->numeric;
        break;
    case NODE_STRING:
        v->type = jbvString;
        v->val.string.val = n->string;
        v->val.string.len = n->len;
        break;
    default:
        Assert(false);
    }
}

static JsonbValue *push_node(JsonbParseState **ps, const JNode *n, JsonbIteratorToken as)
{
    check_stack_depth();
    JsonbValue v;
    JsonbValue *res;
    switch (n->kind)
    {
    case NODE_ARRAY:
        pushJsonbValue(ps, WJB_BEGIN_ARRAY, nullptr);
        for (int i = 0; i < n->len; i++)
            push_node(ps, n->items[i], WJB_ELEM);
        return pushJsonbValue(ps, WJB_END_ARRAY, nullptr);
    case NODE_OBJECT:
        pushJsonbValue(ps, WJB_BEGIN_OBJECT, nullptr);
        for (int i = 0; i < n->len; i++)
        {
            v.type = jbvString;
            v.val.string.val = n->pairs[i].key;
            v.val.string.len = n->pairs[i].keylen;
            pushJsonbValue(ps, WJB_KEY, &v);
            push_node(ps, n->pairs[i].value, WJB_VALUE);
        }
        return pushJsonbValue(ps, WJB_END_OBJECT, nullptr);
    default:
        scalar_jbv(n, &v);
        res = pushJsonbValue(ps, as, &v);
        return res;
    }
}

Jsonb *node_to_jsonb(const JNode *n)
{
    if (n->kind != NODE_ARRAY && n->kind != NODE_OBJECT)
    {
        JsonbValue v;
        scalar_jbv(n, &v);
        return JsonbValueToJsonb(&v);
    }
    JsonbParseState *ps = nullptr;
    return JsonbValueToJsonb(push_node(&ps, n, WJB_VALUE));
}

const char *node_kind_name(NodeKind kind)
{
    switch (kind)
    {
    case NODE_NULL:
        return "null";
    case NODE_BOOL:
        return "a boolean";
    case NODE_NUMERIC:
        return "a number";
    case NODE_STRING:
        return "a string";
    case NODE_ARRAY:
        return "an array";
    case NODE_OBJECT:
        return "an object";
    }
    return "a value";
}

const char *jbv_kind_name(const JsonbValue *v)
{
    switch (v->type)
    {
    case jbvNull:
        return "null";
    case jbvBool:
        return "a boolean";
    case jbvNumeric:
        return "a number";
    case jbvString:
        return "a string";
    case jbvArray:
        return "an array";
    case jbvObject:
        return "an object";
    case jbvBinary:
        return JsonContainerIsObject(v->val.binary.data) ? "an object" : "an array";
    default:
        return "a value";
    }
}
