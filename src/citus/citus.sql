-- chronicle on Citus (docs/design/citus.md): chronicle.distribute() turns an
-- installed chronicle on a Citus coordinator into a store sharded by stream.
-- Re-runnable code (no data objects: the tables it changes belong to their
-- modules); the design is in docs/design/citus.md.

CREATE OR REPLACE FUNCTION chronicle.distribute(shard_count int DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $distribute$
DECLARE
    -- Sharded by stream_id, colocated: an append, a read of a stream, a
    -- replay, a snapshot and a redaction (its register rows, and its receipt
    -- in the shard group's receipt stream) touch one shard group on one node.
    by_stream constant text[] := ARRAY['chronicle.streams', 'chronicle.events', 'chronicle.snapshots',
                                       'chronicle.erasures'];
    -- Called with the stream as its first argument: Citus runs the call on
    -- the node holding the stream (one round trip, no lock elsewhere).
    delegated constant text[] := ARRAY[
        'chronicle.append(text, text, jsonb, jsonb, bigint, uuid, text[])',
        'chronicle.append_batch(text, jsonb, bigint)',
        'chronicle.read_stream(text, bigint, integer, boolean)',
        'chronicle.stream_version(text)',
        'chronicle.replay(text, text, bigint, timestamp with time zone)',
        'chronicle.take_snapshot(text, text)',
        'chronicle.verify(text)',
        'chronicle.redact(text, bigint, text[], text)'];
    t text;
    fn text;
    colocate text := 'none';
    first_call boolean; -- the store is not distributed yet
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'chronicle.distribute() needs Citus, which is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install Citus on the coordinator and on every worker (shared_preload_libraries = '
                         '''citus'', CREATE EXTENSION citus), add the workers with citus_add_node(), '
                         'then call chronicle.distribute() on the coordinator.';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count OPERATOR(pg_catalog.<) 1 OR shard_count OPERATOR(pg_catalog.>) 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000 (got %)', shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT pg_catalog.citus_is_coordinator() THEN
        RAISE EXCEPTION 'chronicle.distribute() runs on the Citus coordinator'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Connect to the coordinator (the node where citus_add_node() was called).';
    END IF;

    -- Citus opens its connections to the other nodes as the role in effect,
    -- and chronicle's functions that write its reference tables or ask
    -- another node (subscribe, ack, park, poll_nodes, the definitions...)
    -- run as chronicle's owner after checking their caller: that role must
    -- be able to log in to every node (docs/design/citus.md, "Who logs in
    -- to the nodes").  Checked here, before anything is changed.
    IF NOT (SELECT r.rolcanlogin FROM pg_catalog.pg_roles r
             WHERE r.oid OPERATOR(pg_catalog.=) (SELECT x.extowner FROM pg_catalog.pg_extension x
                                                  WHERE x.extname OPERATOR(pg_catalog.=) 'chronicle')) THEN
        RAISE EXCEPTION 'chronicle''s owner, role %, cannot log in, and on a Citus cluster chronicle''s functions reach the other nodes as that role',
                        (SELECT pg_catalog.quote_ident(r.rolname) FROM pg_catalog.pg_roles r
                          WHERE r.oid OPERATOR(pg_catalog.=) (SELECT x.extowner FROM pg_catalog.pg_extension x
                                                               WHERE x.extname OPERATOR(pg_catalog.=) 'chronicle'))
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Give chronicle''s owner LOGIN (and a way to authenticate from the coordinator and the workers to every node, as Citus needs for its own connections).';
    END IF;

    -- Citus 13 crashes delegating a call whose stream_id is NULL; chronicle's
    -- planner hook keeps such calls local, and must be loaded before any
    -- statement is planned: on every node (src/citus/guard.cpp).
    IF EXISTS (SELECT FROM (SELECT pg_catalog.current_setting('shared_preload_libraries') AS libs
                            UNION ALL
                            SELECT CASE WHEN w.success THEN w.result ELSE '' END
                              FROM pg_catalog.run_command_on_workers(
                                   'SELECT pg_catalog.current_setting(''shared_preload_libraries'')') w) n
                WHERE NOT ('chronicle' OPERATOR(pg_catalog.=) ANY (pg_catalog.string_to_array(
                           pg_catalog.replace(n.libs, ' ', ''), ',')))) THEN
        RAISE EXCEPTION 'chronicle must be in shared_preload_libraries on the coordinator and every worker'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Set shared_preload_libraries = ''citus,chronicle'' on every node and restart them: '
                         'chronicle keeps calls with a NULL stream_id out of Citus''s call delegation, '
                         'which would crash on them.';
    END IF;

    first_call := NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                               WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass);

    -- Projections write tables of their own on every append; on a cluster
    -- those are sharded beside the streams, which define_projection does
    -- when the store is already distributed: existing ones are not moved.
    IF first_call AND EXISTS (SELECT FROM chronicle.projections) THEN
        RAISE EXCEPTION 'chronicle.distribute() cannot distribute a store with projections'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the projections (chronicle.drop_projection) first and define them again after distribute(); see docs/design/citus.md.';
    END IF;

    -- A subscription's positions are in this server's log; on a cluster each
    -- node has a log of its own, and the events distributed to a worker keep
    -- this server's transaction ids: a checkpoint here means nothing there.
    -- (Once distributed, subscriptions are per node and a second call is a
    -- no-op.)
    IF first_call AND EXISTS (SELECT FROM chronicle.subscriptions) THEN
        RAISE EXCEPTION 'chronicle.distribute() cannot distribute a store with subscriptions'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Let the consumers catch up, unsubscribe, distribute, then subscribe again with from_start => false; see docs/design/citus.md.';
    END IF;

    -- On a cluster the erasure receipts of a stream go to the receipt stream
    -- of its shard group, "chronicle-erasures-<n>", a name reserved there
    -- (docs/design/citus.md): a store with receipts in chronicle-erasures, or
    -- with a writer's stream of such a name (one server does not reserve
    -- them), would have verify() read the wrong receipts.
    IF first_call AND EXISTS (SELECT FROM chronicle.streams s
                               WHERE s.stream_id OPERATOR(pg_catalog.=) 'chronicle-erasures'
                                  OR s.stream_id OPERATOR(pg_catalog.~) '^chronicle-erasures-[0-9]{1,10}$') THEN
        RAISE EXCEPTION 'chronicle.distribute() cannot distribute a store with erasure receipts (or a stream named chronicle-erasures-<digits>)'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Distribute an empty store (docs/design/citus.md); on a cluster the receipts of a stream live in its shard group''s stream chronicle-erasures-<n>.';
    END IF;

    -- Every unique key of a distributed table holds the distribution column.
    -- chronicle.events' keys on event_id and global_position do not: on a
    -- cluster an event_id is unique within its stream (docs/design/citus.md) and a
    -- global_position within its node's log (each node has its own
    -- global_position_seq; docs/design/citus.md).  Installs without Citus
    -- keep the single-node keys; this runs once (the new key marks it done).
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c
                    WHERE c.conrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass
                      AND c.conname OPERATOR(pg_catalog.=) 'events_stream_event_id_key') THEN
        ALTER TABLE chronicle.events
            DROP CONSTRAINT IF EXISTS events_event_id_key,
            DROP CONSTRAINT IF EXISTS events_global_position_key,
            ADD CONSTRAINT events_stream_event_id_key UNIQUE (stream_id, event_id);
        CREATE INDEX IF NOT EXISTS events_global_position_idx ON chronicle.events (global_position);
    END IF;

    -- chronicle's triggers on these tables keep each row's own rules
    -- (immutability, version and hash chain of the row's stream): they read
    -- and write nothing but the shard they fire on, which is what Citus asks
    -- of a trigger on a distributed table.
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);

    FOREACH t IN ARRAY by_stream LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                        WHERE p.logicalrelid OPERATOR(pg_catalog.=) t::pg_catalog.regclass) THEN
            IF colocate OPERATOR(pg_catalog.=) 'none' THEN
                PERFORM pg_catalog.create_distributed_table(t::pg_catalog.regclass, 'stream_id',
                                                            colocate_with => 'none',
                                                            shard_count => shard_count);
            ELSE
                PERFORM pg_catalog.create_distributed_table(t::pg_catalog.regclass, 'stream_id',
                                                            colocate_with => colocate);
            END IF;
        END IF;
        colocate := 'chronicle.streams';
    END LOOP;

    -- Every other table of chronicle is a definition: small, read on every
    -- node (reducers, event types, upcasters, projections, subscriptions),
    -- so a reference table, copied to every node.  Except the trees'
    -- catalog: it names the coordinator's own tables (regclass), which
    -- workers do not have; a tree distributed by its scope carries its
    -- attachment to its shards in its lock trigger's arguments
    -- (docs/design/citus.md).
    FOR t IN
        SELECT c.oid::pg_catalog.regclass::pg_catalog.text
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'chronicle'::pg_catalog.regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) 'r'
           AND c.oid OPERATOR(pg_catalog.<>) ALL (by_stream::pg_catalog.regclass[])
           AND c.oid OPERATOR(pg_catalog.<>) 'chronicle._tree_tables'::pg_catalog.regclass
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                            WHERE p.logicalrelid OPERATOR(pg_catalog.=) c.oid)
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits i
                            WHERE i.inhrelid OPERATOR(pg_catalog.=) c.oid)
         ORDER BY 1
    LOOP
        PERFORM pg_catalog.create_reference_table(t::pg_catalog.regclass);
    END LOOP;

    -- A projection's catalog row names its table by its qualified name on a
    -- cluster, resolved on each node when read: a regclass would have to
    -- resolve on every worker when the row is written, in Citus's
    -- connections of chronicle's owner, which cannot see a table that
    -- define_projection's caller has just created in its own (42P01 for
    -- every caller but chronicle's owner).  No projection exists here (above).
    -- After create_reference_table: Citus then alters the placements and the
    -- workers' own chronicle.projections with it (in this transaction).
    IF first_call AND (SELECT a.atttypid FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) 'chronicle.projections'::pg_catalog.regclass
                          AND a.attname OPERATOR(pg_catalog.=) 'table_name')
                      OPERATOR(pg_catalog.=) 'pg_catalog.regclass'::pg_catalog.regtype THEN
        ALTER TABLE chronicle.projections ALTER COLUMN table_name TYPE pg_catalog.text;
    END IF;

    FOREACH fn IN ARRAY delegated LOOP
        PERFORM pg_catalog.create_distributed_function(fn::pg_catalog.regprocedure, 'stream_id',
                                                       colocate_with => 'chronicle.streams');
    END LOOP;
END
$distribute$;
COMMENT ON FUNCTION chronicle.distribute(int) IS
    'On a Citus coordinator: shard streams, events and snapshots by stream_id (colocated), make the other tables reference tables, delegate stream-addressed functions to the stream''s node. 0A000 without Citus.';

-- The global log of a Citus cluster, read from the coordinator: a page of
-- each node's own log (chronicle.read_all run on that node, so with that
-- node's transaction ids and horizon), merged node after node.  The cursor
-- names the nodes by Citus group id: {"<groupid>": {"tx_id": "...",
-- "global_position": n}, ...}; a node it does not name is read from the
-- start.  Each row is the node, the cursor that stands after it (a reader
-- feeds the last row's cursor back), then the full event row in the column
-- order of chronicle.events and read_all (docs/design/citus.md: why this
-- never skips).
CREATE OR REPLACE FUNCTION chronicle.read_all_nodes(after jsonb DEFAULT '{}', max_count int DEFAULT 1000,
                                                    category text DEFAULT NULL, types text[] DEFAULT NULL)
    RETURNS TABLE(node int, "cursor" jsonb, stream_id text, version bigint, global_position bigint,
                  event_id uuid, type text, type_version int, data jsonb, metadata jsonb,
                  recorded_at timestamptz, tx_id xid8, hash bytea, tags text[], original_digest bytea)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $read_all_nodes$
DECLARE
    n record;
    page record;
    e record;
    pos jsonb;
    cur jsonb;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension x WHERE x.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RAISE EXCEPTION 'chronicle.read_all_nodes() needs Citus, which is not installed in this database'
            USING ERRCODE = 'feature_not_supported', HINT = 'Use chronicle.read_all.';
    END IF;
    IF after IS NULL OR pg_catalog.jsonb_typeof(after) OPERATOR(pg_catalog.<>) 'object' THEN
        RAISE EXCEPTION 'after must be a JSON object of node cursors, {"<group id>": {"tx_id": ..., "global_position": ...}}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_count IS NULL OR max_count OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'max_count must be a non-negative number (got %)', max_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cur := after;
    -- No node before distribute() (_log_nodes' node 0 has no address).
    FOR n IN
        SELECT l.node AS groupid, l.host AS nodename, l.port AS nodeport
          FROM chronicle._log_nodes() l
         WHERE l.host IS NOT NULL
    LOOP
        pos := after OPERATOR(pg_catalog.->) n.groupid::pg_catalog.text;
        SELECT * INTO page FROM pg_catalog.master_run_on_worker(
            ARRAY[n.nodename], ARRAY[n.nodeport],
            ARRAY[pg_catalog.format(
                'SELECT COALESCE(pg_catalog.json_agg(e ORDER BY e.tx_id, e.global_position), ''[]'') '
                'FROM chronicle.read_all(%L, %L, %L, %L, %L) e',
                COALESCE(pos OPERATOR(pg_catalog.->>) 'tx_id', '0'),
                COALESCE(pos OPERATOR(pg_catalog.->>) 'global_position', '0'),
                max_count, category, types)],
            false) r;
        IF NOT page.success THEN
            RAISE EXCEPTION 'reading the log of node %:% (group %) failed: %', n.nodename, n.nodeport, n.groupid, page.result
                USING ERRCODE = 'connection_failure';
        END IF;
        FOR e IN SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::chronicle.events, page.result::pg_catalog.jsonb) LOOP
            cur := cur OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(n.groupid::pg_catalog.text,
                       pg_catalog.jsonb_build_object('tx_id', e.tx_id::pg_catalog.text, 'global_position', e.global_position));
            node := n.groupid;
            "cursor" := cur;
            stream_id := e.stream_id; version := e.version; global_position := e.global_position;
            event_id := e.event_id; type := e.type; type_version := e.type_version; data := e.data;
            metadata := e.metadata; recorded_at := e.recorded_at; tx_id := e.tx_id; hash := e.hash;
            tags := e.tags; original_digest := e.original_digest;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$read_all_nodes$;
COMMENT ON FUNCTION chronicle.read_all_nodes(jsonb, int, text, text[]) IS
    'On a Citus coordinator: a page of each node''s own log (read_all on that node), merged node by node; after names each node''s (tx_id, global_position) by group id, and each row carries the cursor standing after it.';

-- Every node's ledger digest in one call (docs/design/citus.md, "Erasure on a
-- cluster"): chronicle.digest() run on each node holding shards
-- (chronicle._log_nodes()), one after the other, each in a connection of the
-- caller.  SECURITY INVOKER: Citus logs in to the nodes as current_user, and
-- the nodes check digest()'s grant as on any call there, so nobody runs
-- anything on a node that it could not run there itself (as read_all_nodes).
-- Each digest is taken and recorded on its node, in that node's own
-- transaction, committed there whatever the caller's transaction does.
CREATE OR REPLACE FUNCTION chronicle.digest_nodes()
    RETURNS TABLE(node int, digest jsonb)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $digest_nodes$
DECLARE
    n record;
    r record;
BEGIN
    IF NOT chronicle._log_distributed() THEN
        RAISE EXCEPTION 'chronicle.digest_nodes() takes the digests of a Citus cluster''s nodes, and this event store is not distributed'
            USING ERRCODE = 'feature_not_supported', HINT = 'Use chronicle.digest().';
    END IF;
    FOR n IN SELECT l.node, l.host, l.port FROM chronicle._log_nodes() l WHERE l.host IS NOT NULL ORDER BY l.node LOOP
        SELECT * INTO r FROM pg_catalog.master_run_on_worker(ARRAY[n.host], ARRAY[n.port],
                                                             ARRAY['SELECT chronicle.digest()'::pg_catalog.text], false);
        IF NOT r.success THEN
            RAISE EXCEPTION 'taking the digest of node %:% (group %) failed: %', n.host, n.port, n.node, r.result
                USING ERRCODE = 'connection_failure',
                      DETAIL = 'Each node runs digest() in its own transaction: the digests of the nodes before it were taken and recorded there.';
        END IF;
        node := n.node;
        digest := r.result::pg_catalog.jsonb;
        RETURN NEXT;
    END LOOP;
END
$digest_nodes$;
COMMENT ON FUNCTION chronicle.digest_nodes() IS
    'On a Citus coordinator: chronicle.digest() on every node holding shards, one row per node (its group id and its digest, recorded there). chronicle_admin only.';

-- A subscription's page on a Citus cluster, read on the coordinator: each
-- node's page (chronicle._poll_node run on that node: its log after the
-- member's checkpoint for that node, under its horizon), node after node,
-- each row with its node, then the event row in the column order of
-- chronicle.events (as poll and read_all_nodes).  The position and filters
-- are read here, in this transaction; the nodes are asked in parallel.  Ack a
-- row with its node.
--
-- poll_nodes is a gate (src/subscriptions/owner.cpp): it calls the body
-- below with current_user as the caller.  The body checks the caller's right
-- to the subscription first, then asks the nodes in connections of
-- chronicle's owner (it is SECURITY DEFINER, and Citus logs in as
-- current_user): the caller needs no LOGIN of its own on the nodes (a NOLOGIN
-- group role owning the subscription, under SET ROLE, polls), and _poll_node,
-- which the nodes run, is granted to nobody (docs/design/citus.md,
-- "Subscriptions on a cluster").
CREATE OR REPLACE FUNCTION chronicle.poll_nodes(name text, max_count int DEFAULT 100, member int DEFAULT 0,
                                                members int DEFAULT 1)
    RETURNS TABLE(node int, stream_id text, version bigint, global_position bigint, event_id uuid, type text,
                  type_version int, data jsonb, metadata jsonb, recorded_at timestamptz, tx_id xid8, hash bytea,
                  tags text[], original_digest bytea)
    LANGUAGE c VOLATILE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.poll_nodes(text, int, int, int) IS
    'On a Citus coordinator: a subscription''s next events on every node (each node''s log after the member''s checkpoint for that node), node by node, each row with its node; ack each with its node.';

CREATE OR REPLACE FUNCTION chronicle._poll_nodes_as(caller oid, name text, max_count int, member int, members int)
    RETURNS TABLE(node int, stream_id text, version bigint, global_position bigint, event_id uuid, type text,
                  type_version int, data jsonb, metadata jsonb, recorded_at timestamptz, tx_id xid8, hash bytea,
                  tags text[], original_digest bytea)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $poll_nodes$
#variable_conflict use_variable
DECLARE
    sub_name text := _poll_nodes_as.name;
    page_size int := COALESCE(_poll_nodes_as.max_count, 100);
    m int := COALESCE(_poll_nodes_as.member, 0);
    group_size int := COALESCE(_poll_nodes_as.members, 1);
    sub record;
    sub_found boolean;
    n record;
    hosts text[] := '{}';
    ports int[] := '{}';
    groups int[] := '{}';
    commands text[] := '{}';
    pages record;
    e record;
BEGIN
    IF sub_name IS NULL THEN
        RAISE EXCEPTION 'subscription name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF page_size OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'max_count must not be negative (got %)', page_size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF group_size OPERATOR(pg_catalog.<) 1 OR group_size OPERATOR(pg_catalog.>) 1024 THEN
        RAISE EXCEPTION 'members must be between 1 and 1024 (got %)', group_size USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF m OPERATOR(pg_catalog.<) 0 OR m OPERATOR(pg_catalog.>=) group_size THEN
        RAISE EXCEPTION 'member must be between 0 and members - 1 = % (got %)', group_size OPERATOR(pg_catalog.-) 1, m
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.length(sub_name) OPERATOR(pg_catalog.<) 1 OR pg_catalog.length(sub_name) OPERATOR(pg_catalog.>) 255 THEN
        RAISE EXCEPTION 'subscription name must have 1 to 255 characters (got %)', pg_catalog.length(sub_name)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.category, s.types, s.members, s.start_tx_id, s.start_position, s.owner INTO sub
      FROM chronicle.subscriptions s WHERE s.name OPERATOR(pg_catalog.=) sub_name;
    sub_found := FOUND;
    -- Only a member of the owning role (or a superuser) may poll it, as poll
    -- (the same message): the caller, not this function's owner, before
    -- anything else is read, written or asked of a node.  Before the 0A000
    -- below: on any server, another role's subscription is 42501.
    IF sub_found THEN
        PERFORM chronicle._subscription_check_owner(caller, sub_name, sub.owner, 'poll it');
    END IF;
    IF NOT chronicle._log_distributed() THEN
        RAISE EXCEPTION 'chronicle.poll_nodes() reads the logs of a Citus cluster''s nodes, and this event store is not distributed'
            USING ERRCODE = 'feature_not_supported', HINT = 'Use chronicle.poll.';
    END IF;
    IF NOT sub_found THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    IF sub.members OPERATOR(pg_catalog.<>) group_size THEN
        -- A new group size: every member restarts at the old group's lowest
        -- checkpoint of each node.  The body, with the caller: it checks the
        -- caller again on the row it locks.
        PERFORM chronicle._subscription_resize_as(caller, sub_name, group_size);
    END IF;
    FOR n IN
        SELECT l.node, l.host, l.port, COALESCE(c.tx_id, sub.start_tx_id) AS tx_id,
               COALESCE(c.global_position, sub.start_position) AS global_position
          FROM chronicle._log_nodes() l
          LEFT JOIN chronicle.subscription_checkpoints c
                 ON c.subscription OPERATOR(pg_catalog.=) sub_name AND c.member OPERATOR(pg_catalog.=) m
                AND c.node OPERATOR(pg_catalog.=) l.node
         ORDER BY l.node
    LOOP
        groups := groups OPERATOR(pg_catalog.||) n.node;
        hosts := hosts OPERATOR(pg_catalog.||) n.host;
        ports := ports OPERATOR(pg_catalog.||) n.port;
        commands := commands OPERATOR(pg_catalog.||) pg_catalog.format(
            'SELECT COALESCE(pg_catalog.json_agg(e ORDER BY e.tx_id, e.global_position), ''[]'') '
            'FROM chronicle._poll_node(%L, %L, %L, %L, %L, %L, %L, %L) e',
            sub_name, n.tx_id, n.global_position, page_size, m, group_size, sub.category, sub.types);
    END LOOP;
    IF pg_catalog.cardinality(groups) OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    -- As chronicle's owner (this function's): Citus opens the connections as
    -- current_user, and only chronicle's owner may run _poll_node.
    FOR pages IN
        SELECT r.node_name, r.node_port, r.success, r.result, x.ord
          FROM pg_catalog.master_run_on_worker(hosts, ports, commands, true) r
          JOIN ROWS FROM (pg_catalog.unnest(hosts), pg_catalog.unnest(ports)) WITH ORDINALITY AS x(host, port, ord)
            ON x.host OPERATOR(pg_catalog.=) r.node_name AND x.port OPERATOR(pg_catalog.=) r.node_port
         ORDER BY x.ord
    LOOP
        IF NOT pages.success THEN
            RAISE EXCEPTION 'polling the log of node %:% (group %) failed: %', pages.node_name, pages.node_port,
                            groups[pages.ord], pages.result
                USING ERRCODE = 'connection_failure';
        END IF;
        FOR e IN SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::chronicle.events, pages.result::pg_catalog.jsonb) LOOP
            node := groups[pages.ord];
            stream_id := e.stream_id; version := e.version; global_position := e.global_position;
            event_id := e.event_id; type := e.type; type_version := e.type_version; data := e.data;
            metadata := e.metadata; recorded_at := e.recorded_at; tx_id := e.tx_id; hash := e.hash; tags := e.tags;
            original_digest := e.original_digest;
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$poll_nodes$;
COMMENT ON FUNCTION chronicle._poll_nodes_as(oid, text, int, int, int) IS
    'Internal (called by poll_nodes with the caller): checks the caller''s right to the subscription, then asks every node for its page in connections of chronicle''s owner.';
