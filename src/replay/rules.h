/*
 * rules.h: the rules language of docs/reference/replay.md, compiled once per reducer
 * revision and applied to a node.h state tree event by event.
 *
 * Malformed rules and rules that cannot apply throw pg::Error(SE004).
 */
#pragma once

#include "replay/node.h"

extern "C" {
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

enum RuleOp : uint8
{
    OP_UNSET,
    OP_SET,
    OP_MERGE,
    OP_ADD,
    OP_SUB,
    OP_MIN,
    OP_MAX,
    OP_PUSH,
    OP_COUNT
};

enum RuleValueKind : uint8
{
    VALUE_LITERAL,
    VALUE_DATA,     /* "$" */
    VALUE_PATH,     /* "$.a.b" */
    VALUE_ATTRIBUTE /* "@type", ... */
};

enum EventAttribute : uint8
{
    ATTR_TYPE,
    ATTR_VERSION,
    ATTR_EVENT_ID,
    ATTR_STREAM_ID,
    ATTR_RECORDED_AT
};

/* A dotted path; n == 0 is the root (target "") . */
struct RulePath
{
    int n;
    char **segs;
    int *lens;
    char *text; /* as written, NUL-terminated, for messages */
};

struct Rule
{
    RuleOp op;
    RuleValueKind kind;
    EventAttribute attribute;
    RulePath target;
    RulePath path;       /* VALUE_PATH */
    JsonbValue literal;  /* VALUE_LITERAL: points into CompiledRules.source */
};

struct RuleList
{
    int n;
    Rule *rules;
};

struct TypeRules
{
    char *type;
    int typelen;
    RuleList list;
};

struct CompiledRules
{
    Jsonb *source; /* the rules, copied: literals point into it */
    int ntypes;
    TypeRules *types; /* in jsonb key order, for binary search */
    RuleList star;
    bool has_init;
    JsonbValue init;
    bool uses_recorded_at; /* some rule reads "@recorded_at" */
};

/* One event as the rules see it; fields may be missing in hand-made fold rows. */
struct EventView
{
    const char *reducer;
    text *stream_id;    /* NULL if missing */
    bool has_version;
    int64 version;
    const char *type;   /* NULL if missing; not NUL-terminated */
    int typelen;
    Jsonb *data;        /* NULL if missing */
    pg_uuid_t *event_id;
    bool has_recorded_at;
    TimestampTz recorded_at;
};

/* Compile rules into cxt; throws SE004 naming reducer and the bad part. */
CompiledRules *rules_compile(const char *reducer, Jsonb *rules, MemoryContext cxt);

/* The initial state ("$init", default {}) in cxt. */
JNode *rules_initial_state(const CompiledRules *c, MemoryContext cxt);

/*
 * Apply the event's type rules, then "*", to *state (an object in statecxt).
 * Scratch memory comes from CurrentMemoryContext, which the caller resets
 * between events (or every few events: what is left there is never used
 * again).
 */
void rules_apply(const CompiledRules *c, JNode **state, const EventView *ev, MemoryContext statecxt);

/* The rules of one event type, NULL if it has none (valid as long as c). */
const RuleList *rules_of_type(const CompiledRules *c, const char *type, int typelen);

/* rules_apply with the type's rules already found by rules_of_type. */
void rules_apply_list(const CompiledRules *c, const RuleList *type_rules, JNode **state,
                      const EventView *ev, MemoryContext statecxt);

/* "stream \"s\" version n", for SE004 messages about one event. */
char *event_where(const EventView *ev);
