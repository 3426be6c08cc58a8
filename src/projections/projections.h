/*
 * projections.h: what the projection files share (docs/reference/projections.md, inline
 * projections).  A projection is a row of chronicle.projections naming a
 * reducer, a table of the definer's and the columns it fills from the
 * reducer's state; the append observer (observer.cpp) keeps the table
 * current, define/rebuild/drop (define.cpp) manage it, target.cpp turns a
 * definition into SQL.
 *
 * src/projections is C-style (pg/boundary.h).
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/jsonb.h"
}

/* One column as the user asked for it (columns_parse). */
struct ProjColumn
{
    char *name;
    char *type;      /* the user's type name, resolved... */
    Oid typid;       /* ...to this by PostgreSQL's own parser */
    int32 typmod;
    char **path;     /* keys into the state, outermost first */
    int npath;
};

/*
 * Validate define_projection's `columns` argument; raises 22023, 42622,
 * 42701, or the type parser's own error (42704, 42601).  The result is
 * palloc'd.
 */
ProjColumn *columns_parse(Jsonb *columns, int *ncols);

/* The normalised form kept in chronicle.projections.columns:
 * [{"name": ..., "type": ..., "path": [...]}, ...], in table order. */
Jsonb *columns_to_catalog(const ProjColumn *cols, int ncols);

/*
 * A projection's table as SQL: its qualified name, its columns and, for
 * each, the expression that turns the state into the column's value.  The
 * column types are the table's own (read from the relation, so a renamed
 * type or schema is followed); the paths come from the catalog.
 */
struct ProjTarget
{
    Oid relid;
    Oid owner;         /* the table's owner: projection writes run as this role */
    char *table_sql;   /* quoted, schema-qualified */
    int ncols;
    char **col_sql;    /* quoted column names */
    char **cast_sql;   /* the qualified type to cast the state's text to */
    bool *as_json;     /* json/jsonb column: the JSON value, not its text */
    Datum *paths;      /* text[] per column */
};

/*
 * Fill *t for projection `name` (for messages) from the catalog's columns
 * (normalised form); raises 42P01 when the table is gone and 42703 when a
 * column was dropped or renamed.  Allocates in CurrentMemoryContext.
 */
void target_load(const char *name, Oid relid, Jsonb *catalog_columns, ProjTarget *t);

/* ", <value of column 1>, ..." reading the state from state_expr and the
 * paths from parameters $first_param... */
char *target_values_sql(const ProjTarget *t, const char *state_expr, int first_param);

/* The statement that upserts one stream's row: $1 stream_id, $2 version,
 * $3 state, $4... the paths. */
char *target_upsert_sql(const ProjTarget *t);

/* Argument types of target_upsert_sql's statement (palloc'd, 3 + ncols). */
Oid *target_upsert_types(const ProjTarget *t);

/*
 * Replace the table's contents from the log in one statement (the fold
 * aggregate, GROUP BY stream), as the table's owner; returns rows written.
 * SPI must be connected.  The caller holds the locks.  delete_first is
 * rebuild's (the transaction's snapshot); without it (define's new table)
 * the log is read with the newest snapshot.
 */
int64 projection_fill(const char *name, const char *reducer, const char *category,
                      const ProjTarget *t, bool delete_first);

/*
 * The same on a Citus cluster (docs/design/citus.md), where fold over the
 * distributed chronicle.events cannot run (Citus pushes it to the shards,
 * whose row type is not chronicle.events): stream by stream, each replayed
 * (replay_stream, through Citus from the coordinator) and upserted (routed
 * to its shard), as the table's owner.  SPI must be connected.
 */
int64 projection_fill_by_stream(const char *name, const char *reducer, const char *category,
                                const ProjTarget *t, bool delete_first);

/*
 * Rethrow a PostgreSQL error caught while writing a projection, its message
 * prefixed with what was being done (the SQLSTATE, detail and hint stay).
 */
pg_attribute_noreturn() void projection_error(ErrorData *edata, const char *what);

/* Raise 0A000: a rule on the table rewrote the INSERT or DELETE (SPI's rc). */
pg_attribute_noreturn() void projection_rewritten(const char *name, const ProjTarget *t, int rc);

/* Run as the table's owner, restricted (as VACUUM runs a table's code), in
 * a GUC sandbox (pg::spi::sandbox_begin): settings the table's triggers,
 * rules or domains change do not outlive it.  as_owner_end may be called
 * again (a no-op). */
struct AsOwner
{
    Oid saved_user;
    int saved_context;
    int guc_level;
};
void as_owner_begin(AsOwner *s, Oid owner, bool restricted);
void as_owner_end(AsOwner *s);

/*
 * chronicle.projections.table_name is a regclass on one server; on a Citus
 * cluster chronicle.distribute() makes it the table's qualified name (text),
 * which each node resolves itself (docs/design/citus.md, "Projections on a
 * cluster": a regclass would have to resolve on every worker when the row is
 * written, in a connection of chronicle's owner that cannot see a table the
 * caller created in the same transaction).  The SQL expression that gives
 * the table's OID (InvalidOid when it no longer exists) from row p.
 */
const char *projections_table_oid_sql(Oid catalog_relid);

/* define/drop changed chronicle.projections in this transaction: this
 * backend's list is reloaded now and again at the transaction's end. */
void projections_changed(void);

/*
 * The per-backend states of states.cpp.  states_arm lets the next
 * replay_stream of (stream, reducer) as role `who` start from the state remembered at
 * `version`, if there is one, and returns the generation its replay
 * begins in; states_remember keeps a state computed in this transaction
 * (promoted at commit) if no states_reset came since that generation (an
 * invalidation processed during the replay: the state may be computed, in
 * part, with the definitions it replaced); states_reset forgets them all.
 */
uint64 states_arm(text *stream, const char *reducer, Oid who, int64 version);
void states_disarm(void);
void states_remember(text *stream, const char *reducer, Oid who, int32 revision, int64 version,
                     const Jsonb *state, uint64 since);
void states_reset(void);
void states_init(void);

void projections_init(void);
