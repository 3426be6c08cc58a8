-- chronicle: every privilege on chronicle's objects, in one place.
--
-- Last part of the install script and of every upgrade script.  Privileges
-- are exactly the ones listed here, whatever ALTER DEFAULT PRIVILEGES said
-- when the objects were created: first every grant to anyone but the owner is
-- removed (PUBLIC included), then the documented ones are made.  Writers hold
-- no privilege on the tables: the functions write with the owner's rights
-- (docs/design/security.md).

DO $revoke$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT o.kind, o.ident,
               CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(r.rolname) END AS grantee
          FROM (SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                       c.oid::pg_catalog.regclass::pg_catalog.text AS ident,
                       c.relacl AS acl, c.relowner AS owner
                  FROM pg_catalog.pg_class c
                 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'chronicle'::pg_catalog.regnamespace
                UNION ALL
                SELECT 'ROUTINE', p.oid::pg_catalog.regprocedure::pg_catalog.text, p.proacl, p.proowner
                  FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'chronicle'::pg_catalog.regnamespace
                UNION ALL
                SELECT 'TYPE', t.oid::pg_catalog.regtype::pg_catalog.text, t.typacl, t.typowner
                  FROM pg_catalog.pg_type t
                 WHERE t.typnamespace OPERATOR(pg_catalog.=) 'chronicle'::pg_catalog.regnamespace
                UNION ALL
                SELECT 'SCHEMA', 'chronicle', n.nspacl, n.nspowner
                  FROM pg_catalog.pg_namespace n
                 WHERE n.nspname OPERATOR(pg_catalog.=) 'chronicle') o
         CROSS JOIN LATERAL pg_catalog.aclexplode(o.acl) a
          LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
         WHERE a.grantee OPERATOR(pg_catalog.<>) o.owner
         GROUP BY 1, 2, 3
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %s CASCADE', g.kind, g.ident, g.grantee);
    END LOOP;
    -- Routines are executable by PUBLIC while their ACL is still the default
    -- (NULL), which aclexplode above does not show; the same statements for
    -- tables and sequences make every ACL explicit, so that a fresh install
    -- and an upgraded one print the same.
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA chronicle FROM PUBLIC;
    REVOKE ALL ON ALL PROCEDURES IN SCHEMA chronicle FROM PUBLIC;
    REVOKE ALL ON ALL TABLES IN SCHEMA chronicle FROM PUBLIC;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA chronicle FROM PUBLIC;
END
$revoke$;

-- Role membership: a writer is a subscriber, a subscriber a reader.
DO $members$
BEGIN
    IF NOT pg_catalog.pg_has_role('chronicle_writer', 'chronicle_subscriber', 'MEMBER') THEN
        GRANT chronicle_subscriber TO chronicle_writer;
    END IF;
    IF NOT pg_catalog.pg_has_role('chronicle_subscriber', 'chronicle_reader', 'MEMBER') THEN
        GRANT chronicle_reader TO chronicle_subscriber;
    END IF;
END
$members$;

GRANT USAGE ON SCHEMA chronicle TO PUBLIC;
GRANT EXECUTE ON FUNCTION chronicle.version() TO chronicle_reader;
-- The one grant to PUBLIC: the WHEN clause of the tree tables' guard trigger
-- calls it as whoever updates such a table (src/tree/tree.sql).
GRANT EXECUTE ON FUNCTION chronicle._tree_maintaining() TO PUBLIC;

-- events
-- Readers see the log; nobody but the owner writes it (appends run with the
-- owner's rights inside chronicle.append / append_batch).
GRANT SELECT ON chronicle.streams, chronicle.events TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.append(text, text, jsonb, jsonb, bigint, uuid, text[]) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.append_batch(text, jsonb, bigint) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.append_events(jsonb, jsonb, xid8, bigint) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.read_query(jsonb, xid8, bigint, int) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.stream_version(text) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.read_stream(text, bigint, int, boolean) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.read_all(xid8, bigint, int, text, text[]) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.verify(text) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.verify(text, boolean) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle._verify_redacted(text, boolean) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.read_all_nodes(jsonb, int, text, text[]) TO chronicle_reader;
-- The log's nodes (read-only look-ups; _on_node, _node_log_end_sql: nobody).
GRANT EXECUTE ON FUNCTION chronicle._log_distributed(), chronicle._log_node(), chronicle._log_nodes(),
    chronicle._stream_node(text) TO chronicle_reader;
-- chronicle.distribute(int) is granted to no one: it changes the tables' keys
-- and places them on a Citus cluster, which only the extension's owner (or a
-- superuser) may do.

-- types
GRANT SELECT ON chronicle.event_types TO chronicle_reader;
GRANT SELECT ON chronicle.upcasters TO chronicle_reader;
GRANT SELECT ON chronicle.event_type_owners TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.define_event_type(text, jsonb, int) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.define_upcaster(text, int, jsonb) TO chronicle_writer;

-- replay
GRANT SELECT ON chronicle.reducers TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, jsonb, text, int) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, regprocedure, text, int) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.define_reducer(text, text, text, int) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.replay(text, text, bigint, timestamptz) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.fold(text, chronicle.events) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.merge_agg(jsonb) TO chronicle_reader;

-- snapshots
GRANT SELECT ON chronicle.snapshots TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.take_snapshot(text, text) TO chronicle_writer;
GRANT EXECUTE ON PROCEDURE chronicle.snapshot_all(text, int, int) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.prune_snapshots(text, int) TO chronicle_writer;

-- projections
GRANT SELECT ON chronicle.projections TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.define_projection(text, text, text, jsonb) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.rebuild_projection(text) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.drop_projection(text, boolean) TO chronicle_writer;

-- subscriptions: each is owned; the functions check that the caller is a
-- member of the owning role (src/subscriptions/owner.cpp).
GRANT SELECT ON chronicle.subscriptions, chronicle.subscription_checkpoints, chronicle.parked
    TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle._stream_member(text, int) TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.subscribe(text, text, text[], boolean) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.poll(text, int, int, int) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.poll_nodes(text, int, int, int) TO chronicle_subscriber;
-- _poll_node runs on each node of a Citus cluster in a connection that
-- poll_nodes' body (_poll_nodes_as, after its check of the caller) opens as
-- chronicle's owner: it is granted to nobody (src/subscriptions/poll.cpp).
GRANT EXECUTE ON FUNCTION chronicle._subscription_resize(text, int) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.ack(text, xid8, bigint, int, int) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.park(text, uuid, text) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.replay_parked(text) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.unsubscribe(text) TO chronicle_subscriber;
GRANT EXECUTE ON FUNCTION chronicle.alter_subscription_owner(text, regrole) TO chronicle_subscriber;
-- The bodies behind the gates (chronicle._<function>_as, called through fmgr
-- with the caller) and _subscription_check_owner are granted to nobody.
GRANT SELECT ON chronicle.subscription_status TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle._subscription_lag(text, text, text[], int, int, int, xid8, bigint) TO chronicle_reader;

-- erasure
-- Redaction is chronicle_admin's alone (granted to nobody by default; a
-- writer cannot redact); the functions write with the owner's rights.
-- digest() records what it returns (a writer's right); verify_digest reads.
GRANT SELECT ON chronicle.erasures, chronicle.digests TO chronicle_reader, chronicle_admin;
GRANT EXECUTE ON FUNCTION chronicle.redact(text, bigint, text[], text) TO chronicle_admin;
GRANT EXECUTE ON FUNCTION chronicle.redact_tagged(text, text[], text) TO chronicle_admin;
GRANT EXECUTE ON FUNCTION chronicle.digest() TO chronicle_writer, chronicle_admin;
-- Every node's digest from the coordinator: as the caller on each node
-- (SECURITY INVOKER, Citus's connections of current_user), admins only;
-- like digest(), which reads the log as its caller, it also takes a reader.
GRANT EXECUTE ON FUNCTION chronicle.digest_nodes() TO chronicle_admin;
GRANT EXECUTE ON FUNCTION chronicle.verify_digest(jsonb) TO chronicle_reader, chronicle_admin;

-- tree
GRANT SELECT ON chronicle._tree_tables TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.tree_attach(regclass, name, name, name, name, text, text) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.tree_detach(regclass) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.tree_insert(regclass, jsonb, anyelement, text) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.tree_move(regclass, anyelement, anyelement, text, "any") TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.tree_delete(regclass, anyelement, text, "any") TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle.tree_subtree(anyelement, anycompatible, int, "any") TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.tree_ancestors(anyelement, anycompatible, "any") TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.tree_children(anyelement, anycompatible, "any") TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.tree_validate(regclass, "any") TO chronicle_reader;
GRANT EXECUTE ON FUNCTION chronicle.tree_rebuild(regclass) TO chronicle_writer;
GRANT EXECUTE ON FUNCTION chronicle._tree_lock_trigger(), chronicle._tree_guard_trigger(),
    chronicle._tree_insert_trigger(), chronicle._tree_moved_trigger(),
    chronicle._tree_update_trigger(), chronicle._tree_delete_trigger() TO chronicle_writer;

