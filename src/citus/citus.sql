-- chronicle on Citus (SPEC section 8): chronicle.distribute() turns an
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
        'chronicle.append(text, text, jsonb, jsonb, bigint, uuid)',
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

    -- Every unique key of a distributed table holds the distribution column.
    -- chronicle.events' keys on event_id and global_position do not: on a
    -- cluster an event_id is unique within its stream (SPEC section 8) and a
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
    -- node (reducers, event types, upcasters, projections, trees,
    -- subscriptions), so a reference table, copied to every node.
    FOR t IN
        SELECT c.oid::pg_catalog.regclass::pg_catalog.text
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace OPERATOR(pg_catalog.=) 'chronicle'::pg_catalog.regnamespace
           AND c.relkind OPERATOR(pg_catalog.=) 'r'
           AND c.oid OPERATOR(pg_catalog.<>) ALL (by_stream::pg_catalog.regclass[])
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
