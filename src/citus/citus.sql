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
    -- replay and a snapshot touch one shard group on one node.
    by_stream constant text[] := ARRAY['chronicle.streams', 'chronicle.events', 'chronicle.snapshots'];
    -- Called with the stream as its first argument: Citus runs the call on
    -- the node holding the stream (one round trip, no lock elsewhere).
    delegated constant text[] := ARRAY[
        'chronicle.append(text, text, jsonb, jsonb, bigint, uuid, text[])',
        'chronicle.append_batch(text, jsonb, bigint)',
        'chronicle.read_stream(text, bigint, integer, boolean)',
        'chronicle.stream_version(text)',
        'chronicle.replay(text, text, bigint, timestamp with time zone)',
        'chronicle.take_snapshot(text, text)',
        'chronicle.verify(text)'];
    t text;
    fn text;
    colocate text := 'none';
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

    -- Projections write tables of their own on every append; on a cluster
    -- they would have to be sharded beside the streams: not built yet.
    IF EXISTS (SELECT FROM chronicle.projections) THEN
        RAISE EXCEPTION 'chronicle.distribute() cannot distribute a store with projections yet'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop the projections (chronicle.drop_projection) first; see docs/design/citus.md.';
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
    -- workers do not have, and trees on distributed tables are not built
    -- yet; tree tables stay on the coordinator, working as before.
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
-- start.  Each row carries the cursor that stands after it, so a reader feeds
-- the last row's cursor back (docs/design/citus.md: why this never skips).
CREATE OR REPLACE FUNCTION chronicle.read_all_nodes(after jsonb DEFAULT '{}', max_count int DEFAULT 1000,
                                                    category text DEFAULT NULL, types text[] DEFAULT NULL)
    RETURNS TABLE(node int, "cursor" jsonb, stream_id text, version bigint, global_position bigint,
                  event_id uuid, type text, type_version int, data jsonb, metadata jsonb,
                  recorded_at timestamptz, tx_id xid8, hash bytea)
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
    FOR n IN
        SELECT d.groupid, d.nodename, d.nodeport
          FROM pg_catalog.pg_dist_node d
         WHERE d.noderole OPERATOR(pg_catalog.=) 'primary' AND d.isactive
           AND EXISTS (SELECT FROM pg_catalog.pg_dist_placement p
                         JOIN pg_catalog.pg_dist_shard s ON s.shardid OPERATOR(pg_catalog.=) p.shardid
                        WHERE p.groupid OPERATOR(pg_catalog.=) d.groupid
                          AND s.logicalrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass)
         ORDER BY d.groupid
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
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$read_all_nodes$;
COMMENT ON FUNCTION chronicle.read_all_nodes(jsonb, int, text, text[]) IS
    'On a Citus coordinator: a page of each node''s own log (read_all on that node), merged node by node; after names each node''s (tx_id, global_position) by group id, and each row carries the cursor standing after it.';
