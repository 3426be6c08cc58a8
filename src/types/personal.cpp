/*
 * personal.cpp: the values of a document its schema marks "x-personal"
 * (schema.h, personal_paths), for chronicle.redact with no paths
 * (docs/design/erasure.md).  personal_paths() runs the walk under one pg::guard(): below
 * it, frames hold only plain values and palloc'd memory.
 *
 * The walk goes down the data and the schema together.  At each value it
 * takes every schema that applies there, closed over allOf, anyOf, oneOf and
 * $ref (each schema once: shared definitions and cycles cost nothing more);
 * if any is personal, the value is listed and not entered.  An object's
 * property is entered with every applying schema's "properties" entry for
 * it, an array's elements with every applying schema's "items" (and when
 * those are personal the array is listed whole).  Every branch of anyOf and
 * oneOf applies, whether or not the value matches it: a redaction removes
 * rather than keeps when in doubt.  Work is bounded by the data's size times
 * the schema's: each value is visited once, with each schema at most once
 * (sets of schemas are kept with a hash of the nodes, Walk::seen: a List's
 * membership test made a schema of n applicators cost n^2 per value).
 */
#include "types/schema_util.h"

#include "pg/jsonb_root.h"

extern "C" {
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
}

namespace types {

using namespace detail;

namespace {

struct Walk
{
    PersonalStep *steps; /* the current path */
    int depth, cap;
    PersonalPath *out;
    int nout, maxout;
    /* Membership of the set being built: a node is in it when its entry
     * holds the current stamp (each new set takes a new one). */
    HTAB *seen;
    uint64 stamp;
};

struct Seen
{
    const SchemaNode *node; /* the key */
    uint64 stamp;
};

/* Start a new set. */
void new_set(Walk &w)
{
    if (!w.seen)
    {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(const SchemaNode *);
        ctl.entrysize = sizeof(Seen);
        ctl.hcxt = CurrentMemoryContext;
        w.seen = hash_create("chronicle personal walk", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    }
    w.stamp++;
}

/* Add n to the current set; false when it was there already. */
bool add_to_set(Walk &w, const SchemaNode *n)
{
    bool found;
    Seen *e = static_cast<Seen *>(hash_search(w.seen, &n, HASH_ENTER, &found));
    if (found && e->stamp == w.stamp)
        return false;
    e->stamp = w.stamp;
    return true;
}

/* Add n, and every schema its applicators reach, to set (once each); is any personal? */
bool close_over(Walk &w, List **set, const SchemaNode *n)
{
    check_stack_depth();
    if (!add_to_set(w, n))
        return false;
    *set = lappend(*set, const_cast<SchemaNode *>(n));
    bool personal = n->personal;
    for (int i = 0; i < n->nall_of; i++)
        personal |= close_over(w, set, n->all_of[i]);
    for (int i = 0; i < n->nany_of; i++)
        personal |= close_over(w, set, n->any_of[i]);
    for (int i = 0; i < n->none_of; i++)
        personal |= close_over(w, set, n->one_of[i]);
    if (n->ref)
        personal |= close_over(w, set, n->ref);
    return personal;
}

/* The closure of schemas (a List), and whether any of it is personal. */
List *closure(Walk &w, List *schemas, bool *personal)
{
    check_stack_depth();
    CHECK_FOR_INTERRUPTS();
    new_set(w);
    List *set = NIL;
    *personal = false;
    ListCell *lc;
    foreach (lc, schemas)
        *personal |= close_over(w, &set, static_cast<const SchemaNode *>(lfirst(lc)));
    return set;
}

void emit(Walk &w)
{
    if (w.nout == w.maxout)
    {
        w.maxout = Max(8, w.maxout * 2);
        w.out = w.out ? static_cast<PersonalPath *>(repalloc(w.out, sizeof(PersonalPath) * w.maxout))
                      : static_cast<PersonalPath *>(palloc(sizeof(PersonalPath) * w.maxout));
    }
    PersonalPath &p = w.out[w.nout++];
    p.nsteps = w.depth;
    p.steps = static_cast<PersonalStep *>(palloc(sizeof(PersonalStep) * Max(w.depth, 1)));
    for (int i = 0; i < w.depth; i++)
    {
        p.steps[i] = w.steps[i];
        if (p.steps[i].key)
            p.steps[i].key = pnstrdup(p.steps[i].key, p.steps[i].key_len);
    }
}

void push(Walk &w, const char *key, int key_len, int index)
{
    if (w.depth == w.cap)
    {
        w.cap = Max(16, w.cap * 2);
        w.steps = w.steps ? static_cast<PersonalStep *>(repalloc(w.steps, sizeof(PersonalStep) * w.cap))
                          : static_cast<PersonalStep *>(palloc(sizeof(PersonalStep) * w.cap));
    }
    w.steps[w.depth++] = PersonalStep{key, key_len, index};
}

void walk_closed(Walk &w, List *set, const JsonbValue &v);

/* A value to which the schemas of the List apply. */
void walk(Walk &w, List *schemas, const JsonbValue &v)
{
    bool personal;
    List *set = closure(w, schemas, &personal);
    if (personal)
        emit(w);
    else
        walk_closed(w, set, v);
    list_free(set);
}

/* The same, its schemas closed already and none of them personal. */
void walk_closed(Walk &w, List *set, const JsonbValue &v)
{
    CHECK_FOR_INTERRUPTS();
    if (v.type != jbvBinary)
        return;
    ListCell *lc;
    if (JsonContainerIsObject(v.val.binary.data))
    {
        JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
        JsonbValue key, value;
        while (pg::jsonb_next_member(&it, &key, &value))
        {
            List *children = NIL;
            new_set(w);
            foreach (lc, set)
            {
                const Property *p = find_property(static_cast<const SchemaNode *>(lfirst(lc)), key.val.string.val,
                                                  key.val.string.len);
                if (p && add_to_set(w, p->schema))
                    children = lappend(children, p->schema);
            }
            if (children == NIL)
                continue;
            push(w, key.val.string.val, key.val.string.len, -1);
            walk(w, children, value);
            w.depth--;
            list_free(children);
        }
        return;
    }
    List *items = NIL;
    new_set(w);
    foreach (lc, set)
    {
        const SchemaNode *n = static_cast<const SchemaNode *>(lfirst(lc));
        if (n->items && add_to_set(w, n->items))
            items = lappend(items, n->items);
    }
    if (items == NIL)
        return;
    bool personal;
    List *element_set = closure(w, items, &personal);
    if (personal)
        emit(w); /* every element is personal: the array goes whole */
    else
    {
        JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
        JsonbValue e;
        int index = 0;
        while (pg::jsonb_next_element(&it, &e))
        {
            push(w, nullptr, 0, index++);
            walk_closed(w, element_set, e);
            w.depth--;
        }
    }
    list_free(element_set);
    list_free(items);
}

} // namespace

PersonalPaths personal_paths(const SchemaNode *root, Jsonb *data)
{
    Walk w{};
    pg::guard([&] {
        List *schemas = list_make1(const_cast<SchemaNode *>(root));
        walk(w, schemas, pg::jsonb_root_value(data));
        if (w.seen)
            hash_destroy(w.seen);
    });
    return PersonalPaths{w.out, w.nout};
}

} // namespace types
