/*
 * rules.cpp: compiling and applying the rules language (rules.h).
 */
#include "replay/rules.h"

#include "errors.h"
#include "pg/boundary.h"

extern "C" {
#include "catalog/pg_type_d.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
}

static const char *const op_names[OP_COUNT] = {"unset", "set", "merge", "add",
                                               "sub",   "min", "max",   "push"};

/* ---------- compiling ---------- */

struct Compiler
{
    const char *reducer;
    MemoryContext cxt;
};

/*
 * Messages are built with psprintf before anything C++ exists, so that no
 * std::string is alive while a PostgreSQL call could longjmp.
 */
[[noreturn]] static void malformed(const Compiler *cc, const char *what, const char *hint = nullptr)
{
    throw pg::Error(CHRONICLE_INVALID_REDUCER,
                    pg::format("invalid rules for reducer \"%s\": %s", cc->reducer, what), "",
                    hint ? hint : "");
}

static char *cstr(const char *s, int len)
{
    return pnstrdup(s, len);
}

static bool jbv_object(const JsonbValue *v)
{
    return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool jbv_array(const JsonbValue *v)
{
    return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
           !JsonContainerIsScalar(v->val.binary.data);
}

/* Split "a.b.c" into segments; every segment must be non-empty. */
static bool split_path(const char *s, int len, RulePath *p, MemoryContext cxt)
{
    int n = 1;
    for (int i = 0; i < len; i++)
        if (s[i] == '.')
            n++;
    p->n = n;
    p->segs = static_cast<char **>(MemoryContextAlloc(cxt, n * sizeof(char *)));
    p->lens = static_cast<int *>(MemoryContextAlloc(cxt, n * sizeof(int)));
    int start = 0, k = 0;
    for (int i = 0; i <= len; i++)
    {
        if (i == len || s[i] == '.')
        {
            if (i == start)
                return false;
            p->segs[k] = static_cast<char *>(MemoryContextAlloc(cxt, i - start + 1));
            memcpy(p->segs[k], s + start, i - start);
            p->segs[k][i - start] = '\0';
            p->lens[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return true;
}

static void parse_target(const Compiler *cc, RuleOp op, const char *where, const char *s, int len,
                         RulePath *p)
{
    MemoryContext old = MemoryContextSwitchTo(cc->cxt);
    p->text = pnstrdup(s, len);
    MemoryContextSwitchTo(old);
    if (len == 0)
    {
        if (op != OP_SET && op != OP_MERGE)
            malformed(cc, psprintf("%s: %s cannot target the whole state (empty target)", where,
                                     op_names[op]),
                      "Only set and merge accept the empty target \"\", the state's root.");
        p->n = 0;
        p->segs = nullptr;
        p->lens = nullptr;
        return;
    }
    if (!split_path(s, len, p, cc->cxt))
        malformed(cc, psprintf("%s: target \"%s\" of %s has an empty path segment", where,
                                 p->text, op_names[op]),
                  "A target is a key or a dotted path such as \"totals.in\".");
}

static const struct
{
    const char *name;
    EventAttribute attribute;
} attributes[] = {{"@type", ATTR_TYPE},
                  {"@version", ATTR_VERSION},
                  {"@event_id", ATTR_EVENT_ID},
                  {"@stream_id", ATTR_STREAM_ID},
                  {"@recorded_at", ATTR_RECORDED_AT}};

static void parse_value(const Compiler *cc, Rule *r, const char *where, const JsonbValue *v)
{
    r->kind = VALUE_LITERAL;
    r->literal = *v;
    if (v->type == jbvString)
    {
        const char *s = v->val.string.val;
        int len = v->val.string.len;
        if (len == 1 && s[0] == '$')
        {
            r->kind = VALUE_DATA;
            return;
        }
        if (len >= 2 && s[0] == '$' && s[1] == '.')
        {
            r->kind = VALUE_PATH;
            r->path.text = MemoryContextStrdup(cc->cxt, cstr(s, len));
            if (!split_path(s + 2, len - 2, &r->path, cc->cxt))
                malformed(cc, psprintf("%s: value \"%s\" has an empty path segment", where,
                                         r->path.text),
                          "\"$\" is the event's data, \"$.a.b\" a path into it.");
            return;
        }
        if (len > 0 && s[0] == '@')
            for (const auto &a : attributes)
                if (strlen(a.name) == static_cast<size_t>(len) && memcmp(a.name, s, len) == 0)
                {
                    r->kind = VALUE_ATTRIBUTE;
                    r->attribute = a.attribute;
                    return;
                }
    }
    /* A literal: check what can be checked now rather than at every event. */
    switch (r->op)
    {
    case OP_ADD:
    case OP_SUB:
    case OP_MIN:
    case OP_MAX:
        if (v->type != jbvNumeric)
            malformed(cc, psprintf("%s: %s of \"%s\" needs a number, got %s", where,
                                     op_names[r->op], r->target.text, jbv_kind_name(v)));
        break;
    case OP_MERGE:
        if (!jbv_object(v))
            malformed(cc, psprintf("%s: merge into \"%s\" needs an object, got %s",
                                     where, r->target.text, jbv_kind_name(v)));
        break;
    case OP_SET:
        if (r->target.n == 0 && !jbv_object(v))
            malformed(cc, psprintf("%s: set of the whole state needs an object, got %s",
                                     where, jbv_kind_name(v)));
        break;
    default:
        break;
    }
}

/* Append room for n more rules to list. */
static Rule *grow(const Compiler *cc, RuleList *list, int n)
{
    int total = list->n + n;
    list->rules = static_cast<Rule *>(
        list->rules ? repalloc(list->rules, total * sizeof(Rule))
                    : MemoryContextAlloc(cc->cxt, Max(total, 1) * sizeof(Rule)));
    Rule *fresh = &list->rules[list->n];
    memset(fresh, 0, n * sizeof(Rule));
    list->n = total;
    return fresh;
}

/* One operation object: its operations in the fixed order of docs/reference/replay.md. */
static void compile_object(const Compiler *cc, const char *type, JsonbContainer *obj, RuleList *list)
{
    JsonbValue ops[OP_COUNT];
    bool present[OP_COUNT] = {};
    JsonbIterator *it = JsonbIteratorInit(obj);
    JsonbValue v;
    JsonbIteratorToken tok;
    int found = -1;

    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
    {
        if (tok == WJB_KEY)
        {
            found = -1;
            for (int i = 0; i < OP_COUNT; i++)
                if (strlen(op_names[i]) == static_cast<size_t>(v.val.string.len) &&
                    memcmp(op_names[i], v.val.string.val, v.val.string.len) == 0)
                    found = i;
            if (found < 0)
            {
                char *name = cstr(v.val.string.val, v.val.string.len);
                malformed(cc, psprintf("\"%s\": unknown operation \"%s\"", type, name),
                          "Operations are unset, set, merge, add, sub, min, max and push.");
            }
        }
        else if (tok == WJB_VALUE)
        {
            ops[found] = v;
            present[found] = true;
        }
    }

    for (int op = 0; op < OP_COUNT; op++)
    {
        if (!present[op])
            continue;
        char *where_copy = psprintf("\"%s\".%s", type, op_names[op]);
        JsonbValue *body = &ops[op];
        if (op == OP_UNSET)
        {
            if (!jbv_array(body))
                malformed(cc, psprintf("%s must be an array of targets, not %s", where_copy,
                                         jbv_kind_name(body)));
            JsonbIterator *ai = JsonbIteratorInit(body->val.binary.data);
            while ((tok = JsonbIteratorNext(&ai, &v, true)) != WJB_DONE)
            {
                if (tok != WJB_ELEM)
                    continue;
                if (v.type != jbvString)
                    malformed(cc, psprintf("%s: every target must be a string, not %s",
                                             where_copy, jbv_kind_name(&v)));
                Rule *r = grow(cc, list, 1);
                r->op = OP_UNSET;
                if (v.val.string.len == 0)
                    malformed(cc, psprintf("%s: cannot unset the whole state (empty target)",
                                             where_copy));
                parse_target(cc, OP_UNSET, where_copy, v.val.string.val, v.val.string.len,
                             &r->target);
            }
            continue;
        }
        if (!jbv_object(body))
            malformed(cc, psprintf("%s must be an object of target: value, not %s", where_copy,
                                     jbv_kind_name(body)));
        JsonbIterator *oi = JsonbIteratorInit(body->val.binary.data);
        Rule *r = nullptr;
        while ((tok = JsonbIteratorNext(&oi, &v, true)) != WJB_DONE)
        {
            if (tok == WJB_KEY)
            {
                r = grow(cc, list, 1);
                r->op = static_cast<RuleOp>(op);
                parse_target(cc, r->op, where_copy, v.val.string.val, v.val.string.len, &r->target);
            }
            else if (tok == WJB_VALUE)
                parse_value(cc, r, where_copy, &v);
        }
    }
}

/* A type's rules: one operation object, or an array of them applied in order. */
static void compile_list(const Compiler *cc, const char *type, const JsonbValue *v, RuleList *list)
{
    if (jbv_object(v))
    {
        compile_object(cc, type, v->val.binary.data, list);
        return;
    }
    if (!jbv_array(v))
        malformed(cc, psprintf("\"%s\" must map to an operation object or an array of them, not %s",
                                 type, jbv_kind_name(v)));
    JsonbIterator *it = JsonbIteratorInit(v->val.binary.data);
    JsonbValue e;
    JsonbIteratorToken tok;
    while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
    {
        if (tok != WJB_ELEM)
            continue;
        if (!jbv_object(&e))
            malformed(cc, psprintf("\"%s\": every element of the array must be an operation object, not %s",
                                     type, jbv_kind_name(&e)));
        compile_object(cc, type, e.val.binary.data, list);
    }
}

CompiledRules *rules_compile(const char *reducer, Jsonb *rules, MemoryContext cxt)
{
    Compiler cc{reducer, cxt};
    if (!JB_ROOT_IS_OBJECT(rules) || JB_ROOT_IS_SCALAR(rules))
        malformed(&cc, "rules must be a JSON object mapping event types to operations",
                  "Example: {\"DepositMade\": {\"add\": {\"balance\": \"$.Amount\"}}}");

    CompiledRules *c = static_cast<CompiledRules *>(MemoryContextAllocZero(cxt, sizeof(CompiledRules)));
    c->source = static_cast<Jsonb *>(MemoryContextAlloc(cxt, VARSIZE(rules)));
    memcpy(c->source, rules, VARSIZE(rules));
    int count = JsonContainerSize(&c->source->root);
    c->types = static_cast<TypeRules *>(MemoryContextAllocZero(cxt, Max(count, 1) * sizeof(TypeRules)));

    JsonbIterator *it = JsonbIteratorInit(&c->source->root);
    JsonbValue v;
    JsonbIteratorToken tok;
    char *key = nullptr;
    int keylen = 0;
    while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
    {
        CHECK_FOR_INTERRUPTS();
        if (tok == WJB_KEY)
        {
            key = v.val.string.val;
            keylen = v.val.string.len;
            continue;
        }
        if (tok != WJB_VALUE)
            continue;
        char *name = cstr(key, keylen);
        if (strcmp(name, "$init") == 0)
        {
            if (!jbv_object(&v))
                malformed(&cc, psprintf("\"$init\" must be a JSON object, not %s", jbv_kind_name(&v)));
            c->has_init = true;
            c->init = v;
        }
        else if (keylen > 0 && key[0] == '$')
            malformed(&cc, psprintf("unknown directive \"%s\"", name),
                      "Keys starting with \"$\" are reserved; the only directive is \"$init\".");
        else if (keylen == 0)
            malformed(&cc, "an event type must not be empty");
        else if (strcmp(name, "*") == 0)
            compile_list(&cc, name, &v, &c->star);
        else
        {
            TypeRules *t = &c->types[c->ntypes++];
            t->type = MemoryContextStrdup(cxt, name);
            t->typelen = keylen;
            compile_list(&cc, name, &v, &t->list);
        }
    }
    /* Readers skip a column no rule reads. */
    for (int i = 0; i <= c->ntypes; i++)
    {
        const RuleList *list = i < c->ntypes ? &c->types[i].list : &c->star;
        for (int k = 0; k < list->n; k++)
            if (list->rules[k].kind == VALUE_ATTRIBUTE && list->rules[k].attribute == ATTR_RECORDED_AT)
                c->uses_recorded_at = true;
    }
    return c;
}

JNode *rules_initial_state(const CompiledRules *c, MemoryContext cxt)
{
    return c->has_init ? node_from_jbv(&c->init, cxt) : node_new_object(cxt);
}

/* ---------- applying ---------- */

char *event_where(const EventView *ev)
{
    return psprintf("stream \"%s\" version %s",
                    ev->stream_id ? text_to_cstring(ev->stream_id) : "(null)",
                    ev->has_version ? psprintf(INT64_FORMAT, ev->version) : "(null)");
}

[[noreturn]] static void cannot_apply(const EventView *ev, const Rule *r, const char *why)
{
    char *where = event_where(ev);
    throw pg::Error(CHRONICLE_INVALID_REDUCER,
                    pg::format("reducer \"%s\" cannot apply %s to \"%s\" at %s", ev->reducer,
                               op_names[r->op], r->target.text, where),
                    why);
}

static bool lookup_path(const RulePath *p, Jsonb *data, JsonbValue *out)
{
    if (!data || JB_ROOT_IS_SCALAR(data))
        return false;
    JsonbContainer *c = &data->root;
    JsonbValue buf;
    for (int i = 0; i < p->n; i++)
    {
        JsonbValue *cur = nullptr;
        /* The last value is found straight into *out: no copy per event. */
        if (JsonContainerIsObject(c))
            cur = getKeyJsonValueFromContainer(c, p->segs[i], p->lens[i], i == p->n - 1 ? out : &buf);
        else if (JsonContainerIsArray(c))
        {
            /* A segment of digits indexes an array ("$.lines.0"). */
            uint32 index = 0;
            if (p->lens[i] > 9)
                return false;
            for (int k = 0; k < p->lens[i]; k++)
            {
                if (p->segs[i][k] < '0' || p->segs[i][k] > '9')
                    return false;
                index = index * 10 + (p->segs[i][k] - '0');
            }
            cur = getIthJsonbValueFromContainer(c, index);
        }
        if (!cur)
            return false;
        if (i == p->n - 1)
        {
            if (cur != out)
                *out = *cur;
            return true;
        }
        if (cur->type != jbvBinary)
            return false;
        c = cur->val.binary.data;
    }
    return false;
}

static void string_value(JsonbValue *out, char *s)
{
    out->type = jbvString;
    out->val.string.val = s;
    out->val.string.len = strlen(s);
}

/* The rule's value for this event; false when a "$.path" is missing. */
static bool resolve(const Rule *r, const EventView *ev, JsonbValue *out)
{
    switch (r->kind)
    {
    case VALUE_LITERAL:
        *out = r->literal;
        return true;
    case VALUE_DATA:
        if (!ev->data)
            return false;
        if (JB_ROOT_IS_SCALAR(ev->data))
            return JsonbExtractScalar(&ev->data->root, out);
        out->type = jbvBinary;
        out->val.binary.data = &ev->data->root;
        out->val.binary.len = VARSIZE(ev->data) - VARHDRSZ;
        return true;
    case VALUE_PATH:
        return lookup_path(&r->path, ev->data, out);
    case VALUE_ATTRIBUTE:
        out->type = jbvNull;
        switch (r->attribute)
        {
        case ATTR_TYPE:
            if (ev->type)
            {
                out->type = jbvString;
                out->val.string.val = const_cast<char *>(ev->type);
                out->val.string.len = ev->typelen;
            }
            break;
        case ATTR_VERSION:
            if (ev->has_version)
            {
                out->type = jbvNumeric;
                out->val.numeric = int64_to_numeric(ev->version);
            }
            break;
        case ATTR_EVENT_ID:
            if (ev->event_id)
                string_value(out, DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(ev->event_id))));
            break;
        case ATTR_STREAM_ID:
            if (ev->stream_id)
            {
                out->type = jbvString;
                out->val.string.val = VARDATA_ANY(ev->stream_id);
                out->val.string.len = VARSIZE_ANY_EXHDR(ev->stream_id);
            }
            break;
        case ATTR_RECORDED_AT:
            if (ev->has_recorded_at)
            {
                /* In UTC, so that a state never depends on the session's TimeZone. */
                int utc = 0;
                string_value(out, JsonEncodeDateTime(nullptr, TimestampTzGetDatum(ev->recorded_at),
                                                     TIMESTAMPTZOID, &utc));
            }
            break;
        }
        return true;
    }
    return false;
}

/* The slot of the target's last segment, creating missing parents as objects. */
static JNode **target_slot(JNode *state, const Rule *r, const EventView *ev, MemoryContext cxt)
{
    JNode *cur = state;
    const RulePath *p = &r->target;
    int prefix = 0;
    for (int i = 0;; i++)
    {
        if (cur->kind != NODE_OBJECT)
            cannot_apply(ev, r,
                         psprintf("\"%s\" holds %s, not an object", pnstrdup(p->text, prefix),
                                  node_kind_name(cur->kind)));
        JNode **slot = node_slot(cur, p->segs[i], p->lens[i], cxt);
        if (i == p->n - 1)
            return slot;
        if (!*slot)
            *slot = node_new_object(cxt);
        cur = *slot;
        prefix += p->lens[i] + (i > 0 ? 1 : 0);
    }
}

static void numeric_op(const Rule *r, const EventView *ev, JNode **slot, const JsonbValue *v,
                       MemoryContext cxt)
{
    if (v->type != jbvNumeric)
        cannot_apply(ev, r, psprintf("the value is %s, not a number", jbv_kind_name(v)));
    JNode *cur = *slot;
    if (cur && cur->kind != NODE_NUMERIC)
        cannot_apply(ev, r, psprintf("the target holds %s, not a number", node_kind_name(cur->kind)));

    Numeric result;
    if (r->op == OP_ADD || r->op == OP_SUB)
    {
        Numeric base = cur ? cur->numeric : int64_to_numeric(0);
        bool overflow = false;
        result = r->op == OP_ADD ? numeric_add_opt_error(base, v->val.numeric, &overflow)
                                 : numeric_sub_opt_error(base, v->val.numeric, &overflow);
        if (overflow)
            cannot_apply(ev, r, "the result is out of the range of numeric");
    }
    else
    {
        result = v->val.numeric;
        if (cur)
        {
            int c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(cur->numeric),
                                                      NumericGetDatum(v->val.numeric)));
            if ((r->op == OP_MIN && c <= 0) || (r->op == OP_MAX && c >= 0))
                return;
        }
    }
    if (cur)
        node_set_numeric(cur, result, cxt);
    else
        *slot = node_new_numeric(result, cxt);
}

static void apply_rule(const Rule *r, JNode **state, const EventView *ev, MemoryContext cxt)
{
    JsonbValue v;
    if (r->op == OP_UNSET)
    {
        /* Nothing to remove when any part of the path is missing. */
        JNode *parent = (*state)->kind == NODE_OBJECT ? *state : nullptr;
        for (int i = 0; parent && i < r->target.n - 1; i++)
        {
            parent = node_get(parent, r->target.segs[i], r->target.lens[i]);
            if (parent && parent->kind != NODE_OBJECT)
                parent = nullptr;
        }
        if (parent)
            node_remove(parent, r->target.segs[r->target.n - 1], r->target.lens[r->target.n - 1]);
        return;
    }
    if (!resolve(r, ev, &v))
        return; /* a missing "$.path" skips this one operation */

    if (r->target.n == 0)
    {
        /* The root: only set and merge, and it stays an object. */
        if (!(v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data)))
            cannot_apply(ev, r, psprintf("the whole state must stay an object, the value is %s",
                                           jbv_kind_name(&v)));
        if (r->op == OP_SET)
        {
            node_free(*state);
            *state = node_from_jbv(&v, cxt);
        }
        else
            *state = node_merge(*state, &v, cxt);
        return;
    }

    JNode **slot = target_slot(*state, r, ev, cxt);
    switch (r->op)
    {
    case OP_SET:
        node_free(*slot);
        *slot = nullptr;
        *slot = node_from_jbv(&v, cxt);
        break;
    case OP_MERGE:
        if (!(v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data)))
        {
            if (!*slot)
                *slot = node_new_object(cxt);
            cannot_apply(ev, r, psprintf("merge needs an object, the value is %s", jbv_kind_name(&v)));
        }
        *slot = node_merge(*slot, &v, cxt);
        break;
    case OP_PUSH:
        if (!*slot)
            *slot = node_new_array(cxt);
        else if ((*slot)->kind != NODE_ARRAY)
            cannot_apply(ev, r, psprintf("the target holds %s, not an array", node_kind_name((*slot)->kind)));
        node_push(*slot, node_from_jbv(&v, cxt), cxt);
        break;
    default:
        numeric_op(r, ev, slot, &v, cxt);
        break;
    }
}

static void apply_list(const RuleList *list, JNode **state, const EventView *ev, MemoryContext cxt)
{
    for (int i = 0; i < list->n; i++)
        apply_rule(&list->rules[i], state, ev, cxt);
}

const RuleList *rules_of_type(const CompiledRules *c, const char *type, int typelen)
{
    int lo = 0, hi = c->ntypes - 1;
    while (lo <= hi)
    {
        int mid = lo + (hi - lo) / 2;
        const TypeRules *t = &c->types[mid];
        int cmp = t->typelen != typelen ? (t->typelen < typelen ? -1 : 1)
                                        : node_bytes_cmp(t->type, type, typelen);
        if (cmp == 0)
            return &t->list;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return nullptr;
}

void rules_apply_list(const CompiledRules *c, const RuleList *type_rules, JNode **state,
                      const EventView *ev, MemoryContext statecxt)
{
    if (type_rules)
        apply_list(type_rules, state, ev, statecxt);
    apply_list(&c->star, state, ev, statecxt);
}

void rules_apply(const CompiledRules *c, JNode **state, const EventView *ev, MemoryContext statecxt)
{
    const RuleList *type_rules = ev->type ? rules_of_type(c, ev->type, ev->typelen) : nullptr;
    rules_apply_list(c, type_rules, state, ev, statecxt);
}
