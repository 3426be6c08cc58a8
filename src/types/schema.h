/*
 * schema.h: the JSON-Schema subset of docs/reference/types.md, compiled once into a
 * tree of plain structs and checked against event data.
 *
 * Compiled schemas live in a PostgreSQL memory context (the types cache); the
 * only memory outside it is the regex engine's (malloc'd by pg_regcomp), which
 * CompiledSchema::regexes lists so that it can be released with the context.
 * Domain errors are pg::Error (SE003).
 */
#pragma once

#include "pg/boundary.h"
#include "types/types.h"

extern "C" {
#include "regex/regex.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

namespace types {

/* Sub-schemas nest at most this deep (hostile input: a 10,000-level schema). */
constexpr int max_schema_depth = 64;

/*
 * A check applies at most check_steps_base + check_steps_per_byte * (bytes
 * of the data) schemas to values (SE003 beyond): nested anyOf / oneOf over
 * shared "$ref"s could otherwise take exponential time.
 */
constexpr int64 check_steps_base = 1000000;
constexpr int64 check_steps_per_byte = 16;

/* Bits of SchemaNode::type_mask; 0 means "any type". */
enum TypeBit : uint16
{
    T_NULL = 1 << 0,
    T_BOOLEAN = 1 << 1,
    T_OBJECT = 1 << 2,
    T_ARRAY = 1 << 3,
    T_NUMBER = 1 << 4,
    T_INTEGER = 1 << 5, /* a number without a fractional part */
    T_STRING = 1 << 6,
};

enum Format : uint8
{
    F_NONE,
    F_DATE,
    F_DATE_TIME,
    F_UUID,
    F_EMAIL
};

struct RegexHolder
{
    regex_t re;
    RegexHolder *next;
};

struct SchemaNode;

struct Property
{
    const char *name; /* not NUL-terminated inside jsonb; name_len counts bytes */
    int name_len;
    SchemaNode *schema;
};

struct SchemaNode
{
    bool reject_all; /* the boolean schema false */
    uint16 type_mask;

    Property *properties; /* sorted like jsonb keys: by length, then bytes */
    int nproperties;
    Property *required; /* schema unused */
    int nrequired;
    bool no_additional; /* additionalProperties: false */

    SchemaNode *items;

    Jsonb **enum_values;
    int nenum;

    Numeric minimum, maximum, exclusive_minimum, exclusive_maximum; /* NULL: absent */
    int32 min_length, max_length;                                   /* -1: absent */

    regex_t *pattern;
    const char *pattern_source;
    Format format;

    /*
     * Applicators: schemas the same value is also checked against (JSON
     * Schema's allOf, anyOf, oneOf, and a local $ref: "#", "#/$defs/name" or
     * "#/definitions/name" of the root schema).  They may form a graph with
     * cycles through properties and items (a recursive schema); a cycle of
     * applicators alone is rejected when the schema is compiled.
     */
    SchemaNode **all_of;
    int nall_of;
    SchemaNode **any_of;
    int nany_of;
    SchemaNode **one_of;
    int none_of;
    SchemaNode *ref;
    const char *ref_text; /* the $ref as written, for messages */

    bool personal; /* "x-personal": true (chronicle.redact, docs/design/erasure.md) */
    uint8 mark;    /* compile time only: the applicator cycle check */
    int16 chain;   /* compile time only: the longest run of applicators from here, in nodes */
};

struct CompiledSchema
{
    SchemaNode *root;
    RegexHolder *regexes;
};

/*
 * Compile schema (a jsonb document) into memory of CurrentMemoryContext.
 * Throws SE003 naming `what` (e.g. `event type "X" (type_version 1)`) and the
 * schema path of the first malformed keyword.  On error, the regexes compiled
 * so far are released before the exception leaves.
 */
CompiledSchema compile_schema(Jsonb *schema, const char *what);

/* Release what compile_schema allocated outside memory contexts. */
void free_regexes(RegexHolder *list);

/*
 * Check data against a compiled schema.  Throws SE003 whose message names
 * `what`, the JSON path in data and the failed rule.
 */
void check_data(const SchemaNode *root, Jsonb *data, const char *what);

/*
 * The values of data that root marks "x-personal": true, found by walking
 * data and the schema together through properties, items, allOf, anyOf,
 * oneOf and $ref (every branch of anyOf and oneOf, whether or not the value
 * matches it: erasure errs on the side of removing).  A value is personal
 * when any schema that applies to it is; an array whose items are personal
 * is one personal value.  Each result is a PersonalPath palloc'd in
 * CurrentMemoryContext; the list is in data order, and a value is listed
 * once, never inside another listed one.
 */
using PersonalStep = ::TypesPersonalStep;
using PersonalPath = ::TypesPersonalPath;
struct PersonalPaths
{
    PersonalPath *paths;
    int npaths;
};
PersonalPaths personal_paths(const SchemaNode *root, Jsonb *data);

/* Format checkers (RFC 3339 full-date / date-time, RFC 4122 text form, an
 * address per RFC 5321 without quoted local parts or address literals). */
bool is_date(const char *s, int len);
bool is_date_time(const char *s, int len);
bool is_uuid(const char *s, int len);
bool is_email(const char *s, int len);

} // namespace types
