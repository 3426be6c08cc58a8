/*
 * citus.h: where chronicle's direct (table access method) paths meet Citus.
 *
 * On a Citus cluster chronicle.events, chronicle.streams and
 * chronicle.snapshots are distributed by stream_id (chronicle.distribute()).
 * The relation of that name is then a shell: on the coordinator and on every
 * worker it is an empty table that Citus's planner routes SQL away from, and
 * the rows live in shards (chronicle.events_102008, ...), plain heap tables
 * on the node that holds them.  A direct write or scan of the shell would
 * write rows no query ever sees, so every direct path asks here which
 * relation holds a stream's rows on this node.
 *
 * Without Citus (citus.so not loaded in this backend, or no row for the citus
 * extension in pg_extension) nothing is looked up and the answer is the
 * relation itself.
 *
 * C-style (pg/boundary.h): may ereport.  SPI need not be connected.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

namespace pg::citus {

/* Is the citus extension installed in this database (and its library loaded in this backend)? */
bool installed();

/* Is relid a Citus table (distributed or reference) here?  false without Citus. */
bool is_citus_table(Oid relid);

/*
 * The relation holding the rows of relid whose distribution column equals
 * value (text): relid itself when it is not a distributed table; the shard's
 * OID when relid is distributed and that shard is placed on this node;
 * InvalidOid when it is placed on another node (use SQL, which Citus routes,
 * or refuse).  *distributed tells which case it was.
 */
Oid local_placement(Oid relid, text *value, bool *distributed);

/*
 * The shards of distributed table relid placed on this node, as a FROM item:
 * "(SELECT * FROM <shard> UNION ALL SELECT * FROM <shard> ...)", each name
 * qualified and quoted; NULL when none is placed here.  palloc'd.
 */
char *local_shards_from_item(Oid relid);

/*
 * For user tables (src/tree): the Citus table that relid is a shard of, on
 * this node (InvalidOid when relid is no shard), with its partition method
 * ('h' hash, 'n' reference or local) and, for a hash-distributed one, the
 * name of its distribution column (*column, palloc'd; NULL otherwise).
 */
Oid shard_parent(Oid relid, char *method, char **column);

/* relid as a Citus table: its partition method, or 0 when it is none (then
 * *column is NULL); *column as for shard_parent; *repmodel (when not NULL)
 * its replication model ('t' a reference table, 's' a Citus local table
 * among the 'n' ones). */
char table_method(Oid relid, char **column, char *repmodel = nullptr);

/*
 * The first name "<prefix><n>" (n = 1 .. 1,000,000) whose shard of
 * distributed table relid is the shard of value (text): a name placed with
 * value, in its shard group, wherever that group goes.  palloc'd.  Only for a
 * hash-distributed relid.  With shard_count even shards the search ends after
 * about shard_count names; a shard split narrower, or isolated for one tenant
 * (isolate_tenant_to_new_shard: one hash value, which no name but a 32-bit
 * hash collision lands in), may hold none of them: NULL then (the search
 * would otherwise run for an hour through 2^31 names).  The bound costs about
 * 1.5 s when no name is found; a shard of one hash value is not searched
 * (NULL at once).
 */
char *colocated_name(Oid relid, text *value, const char *prefix);

/* Is this node the coordinator (group 0)?  false without Citus. */
bool is_coordinator();

/* The local shards of a distributed table, ascending by OID (palloc'd; *n of them). */
Oid *local_shards(Oid relid, int *n);

/* "host:port" of the node holding the shard of relid for value (text). */
char *placement_node(Oid relid, text *value);

/*
 * This node's Citus group id (pg_dist_local_group): what names its log on a
 * cluster (docs/design/citus.md).  0 without Citus, and on the coordinator.
 */
int32 local_group();

} // namespace pg::citus
