/*
 * upcast.cpp: compiling and applying upcaster rules (see upcast.h).  The work
 * runs under pg::guard(); below it, frames hold only plain values.
 */
#include "types/upcast.h"
#include "pg/jsonb_root.h"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/builtins.h"
}

namespace types {

namespace {

[[noreturn]] void rules_error(const char *what, const char *fmt, const char *arg = nullptr)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid upcaster rules for %s: ", what);
    appendStringInfo(&msg, fmt, arg);
    throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, msg.data);
}

bool same(const char *a, int alen, const char *b, int blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

bool same_key(const JsonbValue &k, const char *name)
{
    return same(k.val.string.val, k.val.string.len, name, strlen(name));
}

Key copy_key(const JsonbValue &v)
{
    return Key{pnstrdup(v.val.string.val, v.val.string.len), v.val.string.len};
}

int find_key(const Key *keys, int n, const char *name, int len)
{
    for (int i = 0; i < n; i++)
        if (same(keys[i].name, keys[i].len, name, len))
            return i;
    return -1;
}

bool is_container(const JsonbValue &v, bool object)
{
    return v.type == jbvBinary &&
           (object ? JsonContainerIsObject(v.val.binary.data) : JsonContainerIsArray(v.val.binary.data));
}

void compile_rename(Upcaster *u, const JsonbValue &v, const char *what)
{
    if (!is_container(v, true))
        rules_error(what, "rename must be an object mapping old key names to new ones");
    int n = JsonContainerSize(v.val.binary.data);
    u->rename_from = static_cast<Key *>(palloc(sizeof(Key) * Max(n, 1)));
    u->rename_to = static_cast<Key *>(palloc(sizeof(Key) * Max(n, 1)));
    JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue k, target;
    while (pg::jsonb_next_member(&it, &k, &target))
    {
        if (target.type != jbvString)
            rules_error(what, "rename of \"%s\" must give the new key name as a string",
                        pnstrdup(k.val.string.val, k.val.string.len));
        if (find_key(u->rename_to, u->nrename, target.val.string.val, target.val.string.len) >= 0)
            rules_error(what, "rename gives two keys the same new name \"%s\"",
                        pnstrdup(target.val.string.val, target.val.string.len));
        u->rename_from[u->nrename] = copy_key(k);
        u->rename_to[u->nrename] = copy_key(target);
        u->nrename++;
    }
}

void compile_unset(Upcaster *u, const JsonbValue &v, const char *what)
{
    if (!is_container(v, false))
        rules_error(what, "unset must be an array of key names");
    int n = JsonContainerSize(v.val.binary.data);
    u->unset = static_cast<Key *>(palloc(sizeof(Key) * Max(n, 1)));
    JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue e;
    while (pg::jsonb_next_element(&it, &e))
    {
        if (e.type != jbvString)
            rules_error(what, "unset must be an array of key names");
        if (find_key(u->unset, u->nunset, e.val.string.val, e.val.string.len) < 0)
            u->unset[u->nunset++] = copy_key(e);
    }
}

Upcaster *compile(Jsonb *rules, const char *what)
{
    if (!JB_ROOT_IS_OBJECT(rules))
        rules_error(what, "rules must be a JSON object with rename, set and/or unset");
    Upcaster *u = static_cast<Upcaster *>(palloc0(sizeof(Upcaster)));
    JsonbIterator *it = JsonbIteratorInit(&rules->root);
    JsonbValue k, v;
    while (pg::jsonb_next_member(&it, &k, &v))
    {
        if (same_key(k, "rename"))
            compile_rename(u, v, what);
        else if (same_key(k, "set"))
        {
            if (!is_container(v, true))
                rules_error(what, "set must be an object of key names and literal values");
            u->set = JsonbValueToJsonb(&v); /* a copy of the container */
        }
        else if (same_key(k, "unset"))
            compile_unset(u, v, what);
        else
            rules_error(what, "unknown operation \"%s\" (expected rename, set, unset)",
                        pnstrdup(k.val.string.val, k.val.string.len));
    }
    return u;
}

void push_pair(JsonbParseState **state, const char *key, int keylen, JsonbValue *value)
{
    JsonbValue k;
    k.type = jbvString;
    k.val.string.val = const_cast<char *>(key);
    k.val.string.len = keylen;
    pushJsonbValue(state, WJB_KEY, &k);
    pushJsonbValue(state, WJB_VALUE, value);
}

/*
 * Keys are pushed so that the last push of a name is the one jsonb keeps
 * (its object normalisation keeps the last duplicate): kept keys, then
 * renamed ones, then set ones.  Unset names are never pushed.
 */
Jsonb *apply(const Upcaster *u, Jsonb *data)
{
    if (!JB_ROOT_IS_OBJECT(data))
        return data;
    JsonbParseState *state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);

    JsonbIterator *it = JsonbIteratorInit(&data->root);
    JsonbValue k, v;
    while (pg::jsonb_next_member(&it, &k, &v))
    {
        if (find_key(u->rename_from, u->nrename, k.val.string.val, k.val.string.len) >= 0 ||
            find_key(u->unset, u->nunset, k.val.string.val, k.val.string.len) >= 0)
            continue;
        push_pair(&state, k.val.string.val, k.val.string.len, &v);
    }
    for (int i = 0; i < u->nrename; i++)
    {
        const Key &to = u->rename_to[i];
        if (find_key(u->unset, u->nunset, to.name, to.len) >= 0 ||
            !getKeyJsonValueFromContainer(&data->root, u->rename_from[i].name, u->rename_from[i].len, &v))
            continue;
        push_pair(&state, to.name, to.len, &v);
    }
    if (u->set)
    {
        it = JsonbIteratorInit(&u->set->root);
        while (pg::jsonb_next_member(&it, &k, &v))
            if (find_key(u->unset, u->nunset, k.val.string.val, k.val.string.len) < 0)
                push_pair(&state, k.val.string.val, k.val.string.len, &v);
    }
    return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, nullptr));
}

} // namespace

Upcaster *compile_upcaster(Jsonb *rules, const char *what)
{
    return pg::guard([&] { return compile(rules, what); });
}

Jsonb *apply_upcaster(const Upcaster *u, Jsonb *data)
{
    return pg::guard([&] { return apply(u, data); });
}

} // namespace types
