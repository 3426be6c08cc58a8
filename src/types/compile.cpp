/*
 * compile.cpp: compiling a JSON-Schema subset into SchemaNode trees
 * (schema.h).  compile_schema() runs the work under one pg::guard(): below
 * it, frames hold only plain values and palloc'd memory, so a PostgreSQL
 * error may longjmp across them, and domain errors are thrown as pg::Error
 * built from a palloc'd message.
 */
#include "types/schema_util.h"

#include "errors.h"
#include "pg/jsonb_root.h"

extern "C" {
#include "catalog/pg_collation_d.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
}

namespace types {

using namespace detail;

namespace {

/* A definition of the root's "$defs" or "definitions", compiled once. */
struct Definition
{
    const char *which; /* "$defs" or "definitions" */
    const char *name;
    int name_len;
    SchemaNode *node;
};

/* The definitions by name (Compiler::index): a "$ref" is found in constant
 * time, where a scan of the list made a schema of n definitions cost n^2
 * (80,000 of them: 4.5 minutes of compiling, in every backend that used the
 * type, with no point at which it could be cancelled). */
struct DefinitionKey
{
    const char *which;
    const char *name;
    int name_len;
};
struct DefinitionEntry
{
    DefinitionKey key;
    int index; /* into Compiler::defs */
};

uint32 definition_hash(const void *key, Size)
{
    const DefinitionKey *k = static_cast<const DefinitionKey *>(key);
    return hash_combine(hash_bytes(reinterpret_cast<const unsigned char *>(k->which), strlen(k->which)),
                        hash_bytes(reinterpret_cast<const unsigned char *>(k->name), k->name_len));
}

int definition_match(const void *a, const void *b, Size)
{
    const DefinitionKey *x = static_cast<const DefinitionKey *>(a);
    const DefinitionKey *y = static_cast<const DefinitionKey *>(b);
    return strcmp(x->which, y->which) != 0 || x->name_len != y->name_len ||
           memcmp(x->name, y->name, x->name_len) != 0;
}

void *definition_key_copy(void *dest, const void *src, Size)
{
    memcpy(dest, src, sizeof(DefinitionKey));
    return dest;
}

struct Compiler
{
    const char *what;
    StringInfo path; /* JSON path into the schema, for error messages */
    RegexHolder *regexes;
    JsonbContainer *root;   /* the root schema (an object), which "$ref"s point into; NULL: a boolean */
    SchemaNode *root_node;  /* "#" */
    Definition *defs;       /* compiled so far */
    int ndefs, maxdefs;
    HTAB *index;            /* of defs, by which and name; NULL until the first */
};

[[noreturn]] void schema_error(Compiler &c, const char *fmt, const char *arg = nullptr)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid schema for %s at %s: ", c.what, c.path->data);
    appendStringInfo(&msg, fmt, arg);
    throw_invalid(msg.data);
}

bool is_string(const JsonbValue &v)
{
    return v.type == jbvString;
}

bool is_container(const JsonbValue &v, bool object)
{
    return v.type == jbvBinary &&
           (object ? JsonContainerIsObject(v.val.binary.data) : JsonContainerIsArray(v.val.binary.data));
}

/* Walk the elements of an array value, calling fn(element, index). */
template <typename Fn>
void each_element(const JsonbValue &array, Fn &&fn)
{
    JsonbIterator *it = JsonbIteratorInit(array.val.binary.data);
    JsonbValue v;
    int index = 0;
    while (pg::jsonb_next_element(&it, &v))
        fn(v, index++);
}

uint16 type_bit(const JsonbValue &v)
{
    static const struct
    {
        const char *name;
        uint16 bit;
    } names[] = {{"null", T_NULL},     {"boolean", T_BOOLEAN}, {"object", T_OBJECT},
                 {"array", T_ARRAY},   {"number", T_NUMBER},   {"integer", T_INTEGER},
                 {"string", T_STRING}};
    for (const auto &n : names)
        if (key_compare(v.val.string.val, v.val.string.len, n.name, strlen(n.name)) == 0)
            return n.bit;
    return 0;
}

int property_order(const void *a, const void *b)
{
    const Property *x = static_cast<const Property *>(a);
    const Property *y = static_cast<const Property *>(b);
    return key_compare(x->name, x->name_len, y->name, y->name_len);
}

int enum_order(const void *a, const void *b)
{
    return compareJsonbContainers(&(*static_cast<Jsonb *const *>(a))->root,
                                  &(*static_cast<Jsonb *const *>(b))->root);
}

Numeric number_keyword(Compiler &c, const JsonbValue &v)
{
    if (v.type != jbvNumeric)
        schema_error(c, "must be a number");
    return numeric_copy(v.val.numeric);
}

int32 length_keyword(Compiler &c, const JsonbValue &v)
{
    bool overflow = false;
    if (v.type != jbvNumeric || !numeric_integral(v.val.numeric))
        schema_error(c, "must be a non-negative integer");
    int32 n = numeric_int4_opt_error(v.val.numeric, &overflow);
    if (overflow || n < 0)
        schema_error(c, "must be a non-negative integer no greater than 2147483647");
    return n;
}

void compile_pattern(Compiler &c, SchemaNode *node, const JsonbValue &v)
{
    if (!is_string(v))
        schema_error(c, "must be a string");
    const char *src = pnstrdup(v.val.string.val, v.val.string.len);
    pg_wchar *wide = static_cast<pg_wchar *>(MemoryContextAllocHuge(
        CurrentMemoryContext, (static_cast<Size>(v.val.string.len) + 1) * sizeof(pg_wchar)));
    int wlen = pg_mb2wchar_with_len(src, wide, v.val.string.len);

    RegexHolder *holder = static_cast<RegexHolder *>(palloc0(sizeof(RegexHolder)));
    /*
     * REG_NOSUB, as PostgreSQL's ~ compiles (a check wants match or no match,
     * never the groups): capturing groups then cost what (?:...) costs.
     * Without it 1,000 nested groups took 27 s to compile instead of 0.1 s,
     * and again at every session's first check of the type.  Back-references
     * still work (the engine keeps what they need).
     */
    int rc = pg_regcomp(&holder->re, wide, wlen, REG_ADVANCED | REG_NOSUB, DEFAULT_COLLATION_OID);
    if (rc != REG_OKAY)
    {
        /*
         * REG_CANCEL means an interrupt is pending (a cancel, a timeout): let
         * PostgreSQL report it (57014) rather than call the pattern malformed,
         * as its own regexp.c does.  A failed pg_regcomp holds no memory.
         */
        CHECK_FOR_INTERRUPTS();
        char reason[256];
        pg_regerror(rc, &holder->re, reason, sizeof(reason));
        schema_error(c, "invalid regular expression: %s", reason);
    }
    holder->next = c.regexes;
    c.regexes = holder;
    node->pattern = &holder->re;
    node->pattern_source = src;
}

SchemaNode *compile_node(Compiler &c, const JsonbValue &v, int depth);
void compile_into(Compiler &c, SchemaNode *node, const JsonbValue &v, int depth);

/*
 * The root's definition `name` of "$defs" or "definitions" (which),
 * compiled once, at depth 1 whatever refers to it, with its own path in
 * messages.  The node is registered before it is compiled, so a definition
 * may refer to itself (a recursive schema).
 */
SchemaNode *definition(Compiler &c, const char *which, const char *name, int name_len)
{
    if (!c.index)
    {
        HASHCTL ctl;
        memset(&ctl, 0, sizeof(ctl));
        ctl.keysize = sizeof(DefinitionKey);
        ctl.entrysize = sizeof(DefinitionEntry);
        ctl.hash = definition_hash;
        ctl.match = definition_match;
        ctl.keycopy = definition_key_copy;
        ctl.hcxt = CurrentMemoryContext;
        c.index = hash_create("chronicle schema definitions", 64, &ctl,
                              HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_KEYCOPY | HASH_CONTEXT);
    }
    DefinitionKey key{which, name, name_len};
    DefinitionEntry *found = static_cast<DefinitionEntry *>(hash_search(c.index, &key, HASH_FIND, nullptr));
    if (found)
        return c.defs[found->index].node;
    JsonbValue defs, member;
    if (!c.root || !getKeyJsonValueFromContainer(c.root, which, strlen(which), &defs) || !is_container(defs, true))
        schema_error(c, "refers to \"%s\", which the schema's root does not have as an object of schemas", which);
    if (!getKeyJsonValueFromContainer(defs.val.binary.data, name, name_len, &member))
        schema_error(c, "refers to a definition the schema does not have: \"%s\"", pnstrdup(name, name_len));
    if (c.ndefs == c.maxdefs)
    {
        c.maxdefs = Max(8, c.maxdefs * 2);
        c.defs = c.defs ? static_cast<Definition *>(repalloc(c.defs, sizeof(Definition) * c.maxdefs))
                        : static_cast<Definition *>(palloc(sizeof(Definition) * c.maxdefs));
    }
    SchemaNode *node = static_cast<SchemaNode *>(palloc0(sizeof(SchemaNode)));
    const char *kept = pnstrdup(name, name_len);
    c.defs[c.ndefs] = Definition{which, kept, name_len, node};
    key.name = kept;
    static_cast<DefinitionEntry *>(hash_search(c.index, &key, HASH_ENTER, nullptr))->index = c.ndefs;
    c.ndefs++;

    char *saved = pstrdup(c.path->data);
    resetStringInfo(c.path);
    appendStringInfoChar(c.path, '$');
    append_key(c.path, which, strlen(which));
    append_key(c.path, name, name_len);
    compile_into(c, node, member, 1);
    resetStringInfo(c.path);
    appendStringInfoString(c.path, saved);
    return node;
}

/*
 * A local "$ref": "#" (the root), "#/$defs/name" or "#/definitions/name"
 * (name a JSON Pointer token: "~1" is "/", "~0" is "~").
 */
SchemaNode *resolve_ref(Compiler &c, const char *ref, int len)
{
    if (len == 1 && ref[0] == '#')
        return c.root_node;
    static const char *const prefixes[2] = {"#/$defs/", "#/definitions/"};
    static const char *const names[2] = {"$defs", "definitions"};
    for (int p = 0; p < 2; p++)
    {
        int plen = strlen(prefixes[p]);
        if (len < plen || memcmp(ref, prefixes[p], plen) != 0)
            continue;
        StringInfoData name;
        initStringInfo(&name);
        for (int i = plen; i < len; i++)
        {
            char ch = ref[i];
            if (ch == '/')
                schema_error(c, "\"%s\": only a definition of the root can be referred to (no deeper pointer)",
                             pnstrdup(ref, len));
            if (ch == '~')
            {
                if (i + 1 < len && (ref[i + 1] == '0' || ref[i + 1] == '1'))
                    ch = ref[++i] == '0' ? '~' : '/';
                else
                    schema_error(c, "\"%s\": \"~\" must be followed by 0 or 1", pnstrdup(ref, len));
            }
            appendStringInfoChar(&name, ch);
        }
        return definition(c, names[p], name.data, name.len);
    }
    schema_error(c, "\"%s\" is not supported: only \"#\", \"#/$defs/name\" and \"#/definitions/name\" (local references)",
                 pnstrdup(ref, len));
}

/* The schemas of allOf / anyOf / oneOf: a non-empty array of schemas. */
SchemaNode **compile_list(Compiler &c, const JsonbValue &v, int depth, int *n)
{
    if (!is_container(v, false) || JsonContainerSize(v.val.binary.data) == 0)
        schema_error(c, "must be a non-empty array of schemas");
    SchemaNode **list = static_cast<SchemaNode **>(palloc(sizeof(SchemaNode *) * JsonContainerSize(v.val.binary.data)));
    *n = 0;
    JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue e;
    int index = 0;
    while (pg::jsonb_next_element(&it, &e))
    {
        int saved = c.path->len;
        appendStringInfo(c.path, "[%d]", index++);
        list[(*n)++] = compile_node(c, e, depth + 1);
        c.path->len = saved;
        c.path->data[saved] = '\0';
    }
    return list;
}

/* Compile sub-schema v found under path suffix (key, or index when key is NULL). */
SchemaNode *compile_child(Compiler &c, const JsonbValue &v, int depth, const char *key, int keylen,
                          int index = -1)
{
    int saved = c.path->len;
    if (key)
        append_key(c.path, key, keylen);
    else if (index >= 0)
        appendStringInfo(c.path, "[%d]", index);
    SchemaNode *child = compile_node(c, v, depth + 1);
    c.path->len = saved;
    c.path->data[saved] = '\0';
    return child;
}

void compile_keyword(Compiler &c, SchemaNode *node, const JsonbValue &key, const JsonbValue &v,
                     int depth)
{
    const char *k = key.val.string.val;
    int klen = key.val.string.len;
    auto is = [&](const char *name) { return key_compare(k, klen, name, strlen(name)) == 0; };

    if (is("type"))
    {
        if (is_string(v))
        {
            node->type_mask = type_bit(v);
            if (!node->type_mask)
                schema_error(c, "unknown type \"%s\"", pnstrdup(v.val.string.val, v.val.string.len));
        }
        else if (is_container(v, false))
        {
            each_element(v, [&](const JsonbValue &e, int) {
                uint16 bit = is_string(e) ? type_bit(e) : 0;
                if (!bit)
                    schema_error(c, "must be a type name or an array of type names");
                if (node->type_mask & bit)
                    schema_error(c, "names type \"%s\" twice", pnstrdup(e.val.string.val, e.val.string.len));
                node->type_mask |= bit;
            });
            if (!node->type_mask)
                schema_error(c, "must not be an empty array");
        }
        else
            schema_error(c, "must be a type name or an array of type names");
    }
    else if (is("properties"))
    {
        if (!is_container(v, true))
            schema_error(c, "must be an object of schemas");
        JsonbContainer *obj = v.val.binary.data;
        int n = JsonContainerSize(obj);
        node->properties = static_cast<Property *>(palloc0(sizeof(Property) * Max(n, 1)));
        JsonbIterator *it = JsonbIteratorInit(obj);
        JsonbValue pk, pv;
        /* Jsonb yields keys in its own sorted order, which lookups rely on. */
        while (pg::jsonb_next_member(&it, &pk, &pv))
        {
            Property &p = node->properties[node->nproperties++];
            p.name = pnstrdup(pk.val.string.val, pk.val.string.len);
            p.name_len = pk.val.string.len;
            p.schema = compile_child(c, pv, depth, p.name, p.name_len);
        }
    }
    else if (is("required"))
    {
        if (!is_container(v, false))
            schema_error(c, "must be an array of property names");
        int n = JsonContainerSize(v.val.binary.data);
        node->required = static_cast<Property *>(palloc0(sizeof(Property) * Max(n, 1)));
        each_element(v, [&](const JsonbValue &e, int) {
            if (!is_string(e))
                schema_error(c, "must be an array of property names");
            Property &p = node->required[node->nrequired++];
            p.name = pnstrdup(e.val.string.val, e.val.string.len);
            p.name_len = e.val.string.len;
        });
        /* A name twice, found in a sorted copy (the list keeps its order for
         * messages): a scan per name made 60,000 names take 9 s. */
        Property *sorted = static_cast<Property *>(palloc(sizeof(Property) * Max(n, 1)));
        memcpy(sorted, node->required, sizeof(Property) * node->nrequired);
        qsort(sorted, node->nrequired, sizeof(Property), property_order);
        for (int i = 1; i < node->nrequired; i++)
            if (key_compare(sorted[i - 1].name, sorted[i - 1].name_len, sorted[i].name, sorted[i].name_len) == 0)
                schema_error(c, "names property \"%s\" twice", sorted[i].name);
        pfree(sorted);
    }
    else if (is("additionalProperties"))
    {
        if (v.type != jbvBool)
            schema_error(c, "only true or false are supported");
        node->no_additional = !v.val.boolean;
    }
    else if (is("items"))
    {
        if (is_container(v, false))
            schema_error(c, "must be a single schema (arrays of schemas are not supported)");
        node->items = compile_child(c, v, depth, nullptr, 0, -1);
    }
    else if (is("enum"))
    {
        if (!is_container(v, false) || JsonContainerSize(v.val.binary.data) == 0)
            schema_error(c, "must be a non-empty array");
        node->enum_values =
            static_cast<Jsonb **>(palloc(sizeof(Jsonb *) * JsonContainerSize(v.val.binary.data)));
        each_element(v, [&](const JsonbValue &e, int) {
            JsonbValue copy = e;
            node->enum_values[node->nenum++] = JsonbValueToJsonb(&copy);
        });
        /* jsonb's own total order (the one its btree uses), so a check is a binary search. */
        qsort(node->enum_values, node->nenum, sizeof(Jsonb *), enum_order);
    }
    else if (is("minimum"))
        node->minimum = number_keyword(c, v);
    else if (is("maximum"))
        node->maximum = number_keyword(c, v);
    else if (is("exclusiveMinimum"))
        node->exclusive_minimum = number_keyword(c, v);
    else if (is("exclusiveMaximum"))
        node->exclusive_maximum = number_keyword(c, v);
    else if (is("minLength"))
        node->min_length = length_keyword(c, v);
    else if (is("maxLength"))
        node->max_length = length_keyword(c, v);
    else if (is("pattern"))
        compile_pattern(c, node, v);
    else if (is("format"))
    {
        if (!is_string(v))
            schema_error(c, "must be a string");
        const char *f = pnstrdup(v.val.string.val, v.val.string.len);
        if (strcmp(f, "date") == 0)
            node->format = F_DATE;
        else if (strcmp(f, "date-time") == 0)
            node->format = F_DATE_TIME;
        else if (strcmp(f, "uuid") == 0)
            node->format = F_UUID;
        else if (strcmp(f, "email") == 0)
            node->format = F_EMAIL;
        else
            schema_error(c, "unknown format \"%s\" (supported: date, date-time, uuid, email)", f);
    }
    else if (is("x-personal"))
    {
        /* chronicle's annotation: the property is personal data, which
         * chronicle.redact removes when given no paths (docs/design/erasure.md). */
        if (v.type != jbvBool)
            schema_error(c, "must be a boolean");
        node->personal = v.val.boolean;
    }
    else if (is("allOf"))
        node->all_of = compile_list(c, v, depth, &node->nall_of);
    else if (is("anyOf"))
        node->any_of = compile_list(c, v, depth, &node->nany_of);
    else if (is("oneOf"))
        node->one_of = compile_list(c, v, depth, &node->none_of);
    else if (is("$ref"))
    {
        if (!is_string(v))
            schema_error(c, "must be a string");
        node->ref_text = pnstrdup(v.val.string.val, v.val.string.len);
        node->ref = resolve_ref(c, v.val.string.val, v.val.string.len);
    }
    else if (is("$defs") || is("definitions"))
    {
        /* Every definition is compiled (a malformed one is an error even
         * when nothing refers to it); "$ref"s reach them by name. */
        if (depth != 0)
            schema_error(c, "is supported at the schema's root only");
        if (!is_container(v, true))
            schema_error(c, "must be an object of schemas");
        const char *which = is("$defs") ? "$defs" : "definitions";
        JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
        JsonbValue dk, dv;
        while (pg::jsonb_next_member(&it, &dk, &dv))
            (void)definition(c, which, dk.val.string.val, dk.val.string.len);
    }
    else if (is("title") || is("description") || is("$schema") || is("$id") || is("$comment") ||
             is("default") || is("examples") || is("deprecated") || is("readOnly") || is("writeOnly"))
    {
        /* Annotations: accepted and ignored, as JSON Schema does. */
    }
    else
    {
        /* An unknown validation keyword ignored silently would let a typo
         * ("minimun") or an unsupported rule ("oneOf") accept anything. */
        schema_error(c, "unsupported keyword \"%s\"", pnstrdup(k, klen));
    }
}

SchemaNode *compile_node(Compiler &c, const JsonbValue &v, int depth)
{
    SchemaNode *node = static_cast<SchemaNode *>(palloc0(sizeof(SchemaNode)));
    compile_into(c, node, v, depth);
    return node;
}

void compile_into(Compiler &c, SchemaNode *node, const JsonbValue &v, int depth)
{
    check_stack_depth();
    CHECK_FOR_INTERRUPTS();
    node->min_length = node->max_length = -1;
    if (v.type == jbvBool)
    {
        node->reject_all = !v.val.boolean;
        return;
    }
    if (!is_container(v, true))
        schema_error(c, "a schema must be a JSON object or a boolean");
    if (depth > max_schema_depth)
    {
        char limit[16];
        snprintf(limit, sizeof(limit), "%d", max_schema_depth);
        schema_error(c, "schemas nest deeper than %s levels", limit);
    }

    JsonbIterator *it = JsonbIteratorInit(v.val.binary.data);
    JsonbValue key, value;
    while (pg::jsonb_next_member(&it, &key, &value))
    {
        int saved = c.path->len;
        append_key(c.path, key.val.string.val, key.val.string.len);
        compile_keyword(c, node, key, value, depth);
        c.path->len = saved;
        c.path->data[saved] = '\0';
    }
}

/*
 * Applicators (allOf, anyOf, oneOf, $ref) check the same value again: a
 * cycle of them alone ("$ref": "#" at the root, two definitions referring
 * to each other) would never end.  Every node is visited (through
 * properties and items too); from each, a depth-first walk over applicator
 * edges finds any such cycle.  mark: 1 visited, 2 on the walk's stack, 4
 * its walk is done (no cycle from it; chain holds the longest run of
 * applicators from it, in nodes).
 *
 * A run of applicators without a cycle is held to max_schema_depth edges
 * too: each is a level of the check's recursion on one value, and a chain
 * of definitions that are each a "$ref" to the next nests without the
 * schema's JSON nesting (20,000 of them overflowed the check's stack).
 * depth: the applicator edges from the walk's start to node.
 */
void check_applicator_cycles(Compiler &c, SchemaNode *node, const char *via);

[[noreturn]] void applicator_chain_error(Compiler &c, const char *via)
{
    StringInfoData msg;
    initStringInfo(&msg);
    appendStringInfo(&msg, "invalid schema for %s: %s is reached through more than %d allOf, anyOf, oneOf or $ref "
                     "in a row, without descending into a property or an array item",
                     c.what, via ? psprintf("\"$ref\": \"%s\"", via) : "an allOf, anyOf or oneOf", max_schema_depth);
    throw_invalid(msg.data);
}

int applicator_walk(Compiler &c, SchemaNode *node, const char *via, int depth)
{
    check_stack_depth();
    if (node->mark & 2)
    {
        StringInfoData msg;
        initStringInfo(&msg);
        appendStringInfo(&msg, "invalid schema for %s: %s refers back to itself without descending into a property "
                         "or an array item (the check would never end)",
                         c.what, via ? psprintf("\"$ref\": \"%s\"", via) : "an allOf, anyOf or oneOf");
        throw_invalid(msg.data);
    }
    if (!(node->mark & 4))
    {
        if (depth > max_schema_depth)
            applicator_chain_error(c, via);
        node->mark |= 2;
        int longest = 0;
        for (int i = 0; i < node->nall_of; i++)
            longest = Max(longest, applicator_walk(c, node->all_of[i], nullptr, depth + 1));
        for (int i = 0; i < node->nany_of; i++)
            longest = Max(longest, applicator_walk(c, node->any_of[i], nullptr, depth + 1));
        for (int i = 0; i < node->none_of; i++)
            longest = Max(longest, applicator_walk(c, node->one_of[i], nullptr, depth + 1));
        if (node->ref)
            longest = Max(longest, applicator_walk(c, node->ref, node->ref_text, depth + 1));
        node->chain = (int16)(longest + 1);
        node->mark = (node->mark & ~2) | 4;
    }
    if (depth + node->chain - 1 > max_schema_depth)
        applicator_chain_error(c, via);
    return node->chain;
}

void check_applicator_cycles(Compiler &c, SchemaNode *node, const char *via)
{
    check_stack_depth();
    if (node->mark & 1)
        return;
    node->mark |= 1;
    applicator_walk(c, node, via, 0);
    for (int i = 0; i < node->nproperties; i++)
        check_applicator_cycles(c, node->properties[i].schema, nullptr);
    if (node->items)
        check_applicator_cycles(c, node->items, nullptr);
    for (int i = 0; i < node->nall_of; i++)
        check_applicator_cycles(c, node->all_of[i], nullptr);
    for (int i = 0; i < node->nany_of; i++)
        check_applicator_cycles(c, node->any_of[i], nullptr);
    for (int i = 0; i < node->none_of; i++)
        check_applicator_cycles(c, node->one_of[i], nullptr);
    if (node->ref)
        check_applicator_cycles(c, node->ref, node->ref_text);
}

} // namespace

CompiledSchema compile_schema(Jsonb *schema, const char *what)
{
    Compiler c{what, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, nullptr};
    SchemaNode *root = nullptr;
    try
    {
        root = pg::guard([&] {
            c.path = makeStringInfo();
            appendStringInfoChar(c.path, '$');
            JsonbValue v = pg::jsonb_root_value(schema);
            c.root = is_container(v, true) ? v.val.binary.data : nullptr;
            c.root_node = static_cast<SchemaNode *>(palloc0(sizeof(SchemaNode)));
            compile_into(c, c.root_node, v, 0);
            check_applicator_cycles(c, c.root_node, nullptr);
            for (int i = 0; i < c.ndefs; i++)
                check_applicator_cycles(c, c.defs[i].node, nullptr);
            if (c.index)
                hash_destroy(c.index);
            return c.root_node;
        });
    }
    catch (...)
    {
        /* c.regexes lives in this frame, updated by reference: current after a longjmp. */
        free_regexes(c.regexes);
        throw;
    }
    return CompiledSchema{root, c.regexes};
}

void free_regexes(RegexHolder *list)
{
    for (RegexHolder *h = list; h; h = h->next)
        pg_regfree(&h->re);
}

} // namespace types
