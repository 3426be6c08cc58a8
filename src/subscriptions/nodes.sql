-- chronicle's log per node (docs/design/citus.md, "The global log on a
-- cluster").  One server has one log, node 0.  On a Citus cluster whose chronicle.events is
-- distributed (chronicle.distribute()), each node holding shards of it has a
-- log of its own, named by the node's Citus group id.  These helpers answer
-- for both cases: a subscription keeps a checkpoint per node with them
-- (subscriptions.sql; chronicle.poll_nodes in src/citus/citus.sql).  Citus's
-- catalogs are only named in statements that run where Citus is installed.

-- Is chronicle.events distributed (chronicle.distribute() has run)?
CREATE OR REPLACE FUNCTION chronicle._log_distributed() RETURNS boolean
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension x WHERE x.extname OPERATOR(pg_catalog.=) 'citus') THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                    WHERE p.logicalrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass);
END
$$;
COMMENT ON FUNCTION chronicle._log_distributed() IS
    'Internal: whether chronicle.events is distributed by Citus (a log per node).';

-- The node this session runs on: 0 on one server, its Citus group id on a cluster.
CREATE OR REPLACE FUNCTION chronicle._log_node() RETURNS int
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT chronicle._log_distributed() THEN
        RETURN 0;
    END IF;
    RETURN (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g);
END
$$;
COMMENT ON FUNCTION chronicle._log_node() IS
    'Internal: the node this session runs on, as the log names it: 0 on one server, the Citus group id on a cluster.';

-- The nodes whose logs make up the store, by group id, with their addresses:
-- (0, NULL, NULL) on one server; on a cluster the active primaries holding
-- shards of chronicle.events.
CREATE OR REPLACE FUNCTION chronicle._log_nodes(OUT node int, OUT host text, OUT port int) RETURNS SETOF record
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT chronicle._log_distributed() THEN
        node := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT d.groupid, d.nodename, d.nodeport
          FROM pg_catalog.pg_dist_node d
         WHERE d.noderole OPERATOR(pg_catalog.=) 'primary' AND d.isactive
           AND EXISTS (SELECT FROM pg_catalog.pg_dist_placement p
                         JOIN pg_catalog.pg_dist_shard s ON s.shardid OPERATOR(pg_catalog.=) p.shardid
                        WHERE p.groupid OPERATOR(pg_catalog.=) d.groupid
                          AND s.logicalrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass)
         ORDER BY d.groupid;
END
$$;
COMMENT ON FUNCTION chronicle._log_nodes() IS
    'Internal: the nodes whose logs make up the event store (group id, host, port): node 0 alone on one server.';

-- The node whose log holds a stream's events: 0 on one server.
CREATE OR REPLACE FUNCTION chronicle._stream_node(stream_id text) RETURNS int
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT chronicle._log_distributed() THEN
        RETURN 0;
    END IF;
    RETURN (SELECT p.groupid FROM pg_catalog.pg_dist_placement p
             WHERE p.shardid OPERATOR(pg_catalog.=)
                   pg_catalog.get_shard_id_for_distribution_column('chronicle.events', _stream_node.stream_id)
             ORDER BY p.groupid LIMIT 1);
END
$$;
COMMENT ON FUNCTION chronicle._stream_node(text) IS
    'Internal: the node (Citus group id; 0 on one server) whose log holds a stream''s events.';

-- Runs a query of one text value on a node of the log, as the current role:
-- here (in this transaction) when it is this node, otherwise in a
-- connection of its own (master_run_on_worker).  08006 when that fails.
-- Granted to nobody: chronicle's SECURITY DEFINER functions call it.
CREATE OR REPLACE FUNCTION chronicle._on_node(node int, command text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    addr record;
    r record;
    result text;
BEGIN
    IF node OPERATOR(pg_catalog.=) chronicle._log_node() THEN
        EXECUTE command INTO result;
        RETURN result;
    END IF;
    SELECT l.host, l.port INTO addr FROM chronicle._log_nodes() l WHERE l.node OPERATOR(pg_catalog.=) _on_node.node;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % holds no part of the log of this Citus cluster', node
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM pg_catalog.master_run_on_worker(ARRAY[addr.host], ARRAY[addr.port], ARRAY[command], false);
    IF NOT r.success THEN
        RAISE EXCEPTION 'a query on node %:% (group %) failed: %', addr.host, addr.port, node, r.result
            USING ERRCODE = 'connection_failure';
    END IF;
    RETURN r.result;
END
$$;
COMMENT ON FUNCTION chronicle._on_node(int, text) IS
    'Internal: runs a query of one text value on a node of the log (here, or through master_run_on_worker).';

-- A query for the end of a node's log, run on that node (subscribe with
-- from_start => false): its last event below its horizon, as a
-- chronicle.log_position's text, '' when it has none.  It names the node's
-- shards of chronicle.events itself, so Citus plans nothing there.
CREATE OR REPLACE FUNCTION chronicle._node_log_end_sql(node int) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shards text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('SELECT e.tx_id, e.global_position FROM %s e',
                                                   pg_catalog.shard_name('chronicle.events'::pg_catalog.regclass, s.shardid)),
                                 ' UNION ALL ' ORDER BY s.shardid)
      INTO shards
      FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
     WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'chronicle.events'::pg_catalog.regclass
       AND p.groupid OPERATOR(pg_catalog.=) node;
    IF shards IS NULL THEN
        RETURN 'SELECT ''''';
    END IF;
    RETURN pg_catalog.format(
        'SELECT COALESCE((SELECT ROW(x.tx_id, x.global_position)::chronicle.log_position::pg_catalog.text '
        'FROM (%s) x WHERE x.tx_id OPERATOR(pg_catalog.<) pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot()) '
        'ORDER BY x.tx_id DESC, x.global_position DESC LIMIT 1), '''')', shards);
END
$$;
COMMENT ON FUNCTION chronicle._node_log_end_sql(int) IS
    'Internal: the query that returns the end of a node''s log below its horizon (a log_position as text, or '''').';
