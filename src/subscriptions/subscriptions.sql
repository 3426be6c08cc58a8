-- chronicle: durable subscriptions over the global log (docs/reference/subscriptions.md).
-- A subscription is a name, optional category and types filters, and one
-- checkpoint per consumer-group member, in read_all order (tx_id,
-- global_position).  poll (C++, src/subscriptions/poll.cpp) reads after a
-- checkpoint under read_all's horizon; ack, park and the rest write here with
-- the owner's rights: nobody else has any write privilege on these tables.
--
-- A subscription is owned (docs/design/security.md): by the role that subscribed, or
-- the one alter_subscription_owner gave it to.  Every function that uses or
-- changes one requires the caller to be a member of the owning role
-- (pg_has_role USAGE, i.e. has_privs_of_role; a superuser is) or else raises
-- 42501, so that one consumer role cannot ack past, park, resize, unsubscribe
-- or take over another's subscription.  A SECURITY DEFINER function cannot
-- see who called it, so each of them is a C gate (src/subscriptions/owner.cpp)
-- that calls its PL/pgSQL body chronicle._<function>_as(caller oid, <the same
-- arguments>) with current_user; the body (SECURITY DEFINER, granted to
-- nobody) checks the owner on the subscription row it has locked, before it
-- writes anything.  poll (C, reading as the caller) checks when it starts.

-- Consumers manage subscription state but need not append: they have a role
-- of their own, chronicle_subscriber (src/base.sql, src/privileges.sql).

-- The member of a group of `members` that a stream belongs to: the first four
-- bytes of SHA-256(stream_id) as an unsigned big-endian number, mod members.
CREATE OR REPLACE FUNCTION chronicle._stream_member(stream_id text, members int) RETURNS int
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'chronicle_stream_member';
COMMENT ON FUNCTION chronicle._stream_member(text, int) IS
    'The consumer-group member (0 .. members-1) that receives a stream: first 4 bytes of sha256(stream_id) as an unsigned big-endian integer, mod members.';

-- Argument checks shared by the functions below (22004 / 22023 / SE006).
CREATE OR REPLACE FUNCTION chronicle._subscription_name(name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'subscription name must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF length(name) NOT BETWEEN 1 AND 255 THEN
        RAISE EXCEPTION 'subscription name must have 1 to 255 characters (got %)', length(name)
            USING ERRCODE = '22023';
    END IF;
    IF name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'subscription name must not contain control characters'
            USING ERRCODE = '22023';
    END IF;
    RETURN name;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_name(text) IS
    'Internal: checks a subscription name (22004 NULL, 22023 empty, longer than 255 characters or with control characters).';

-- 42501 unless caller is a member of the subscription's owner or a superuser
-- (pg_has_role USAGE is has_privs_of_role).  poll raises the same message
-- (owner.cpp).
CREATE OR REPLACE FUNCTION chronicle._subscription_check_owner(caller oid, name text, owner regrole, action text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT pg_has_role(caller, owner::oid, 'USAGE') THEN
        RAISE EXCEPTION 'subscription "%" is owned by role %', name,
                        coalesce((SELECT quote_ident(r.rolname) FROM pg_roles r WHERE r.oid = owner::oid),
                                 'with OID ' || owner::oid)
            USING ERRCODE = '42501',
                  DETAIL = format('Only the subscription''s owner or a member of the owning role may %s.', action);
    END IF;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_check_owner(oid, text, regrole, text) IS
    'Internal: 42501 unless the caller is a member of the subscription''s owning role (or a superuser).';

CREATE OR REPLACE FUNCTION chronicle.subscribe(name text, category text DEFAULT NULL, types text[] DEFAULT NULL,
                                    from_start boolean DEFAULT true) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.subscribe(text, text, text[], boolean) IS
    'Creates a durable subscription over read_all order, owned by current_user, from the start of the log or from its current end; the same definition again by a member of the owner is a no-op, another one 42710, anyone else gets 42501.';

CREATE OR REPLACE FUNCTION chronicle._subscribe_as(caller oid, name text, category text, types text[],
                                    from_start boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_subscribe_as.name);
    sub_types text[];
    existing record;
    start chronicle.log_position := ROW('0', 0);
    -- On a Citus cluster: each node's start (from_start => false).
    node_ends chronicle.log_position[] := '{}';
    end_nodes int[] := '{}';
    n record;
    node_end text;
BEGIN
    IF _subscribe_as.from_start IS NULL THEN
        RAISE EXCEPTION 'from_start must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- A subscription that could never deliver anything is a mistake, not a wish.
    IF strpos(_subscribe_as.category, '-') > 0 THEN
        RAISE EXCEPTION 'category "%" contains ''-'': a category is the part of a stream id before its first ''-''',
                        _subscribe_as.category
            USING ERRCODE = '22023';
    END IF;
    IF _subscribe_as.types IS NOT NULL THEN
        IF array_ndims(_subscribe_as.types) > 1 THEN
            RAISE EXCEPTION 'types must be a one-dimensional array' USING ERRCODE = '22023';
        END IF;
        IF cardinality(_subscribe_as.types) = 0 THEN
            RAISE EXCEPTION 'types must not be empty (NULL means every type)' USING ERRCODE = '22023';
        END IF;
        IF array_position(_subscribe_as.types, NULL) IS NOT NULL THEN
            RAISE EXCEPTION 'types must not contain NULL' USING ERRCODE = '22004';
        END IF;
        sub_types := ARRAY(SELECT DISTINCT t FROM unnest(_subscribe_as.types) AS t ORDER BY t);
    END IF;

    FOR attempt IN 1 .. 2 LOOP
        SELECT s.category, s.types, s.owner INTO existing
        FROM chronicle.subscriptions s WHERE s.name = sub_name;
        IF FOUND THEN
            -- Another role's name is not taken over, not even with its filters.
            PERFORM chronicle._subscription_check_owner(caller, sub_name, existing.owner, 'subscribe to it again');
            -- Consumers subscribe at start-up: the same definition again is a no-op.
            IF existing.category IS NOT DISTINCT FROM _subscribe_as.category
               AND existing.types IS NOT DISTINCT FROM sub_types THEN
                RETURN;
            END IF;
            RAISE EXCEPTION 'subscription "%" already exists with other filters', sub_name
                USING ERRCODE = '42710',
                      DETAIL = format('category %s, types %s', coalesce(quote_literal(existing.category), 'NULL'),
                                      coalesce(existing.types::text, 'NULL')),
                      HINT = 'unsubscribe it first, or use another name';
        END IF;
        IF attempt = 2 THEN
            -- A concurrent subscribe of this name committed after our snapshot.
            RAISE EXCEPTION 'subscription "%" was created concurrently', sub_name
                USING ERRCODE = '40001';
        END IF;

        IF NOT _subscribe_as.from_start AND chronicle._log_distributed() THEN
            -- A Citus cluster has a log per node: the end of each, under
            -- that node's horizon, becomes member 0's checkpoint there (the
            -- subscription's own start stays at the beginning, where a node
            -- with no checkpoint is read from; docs/design/citus.md).
            FOR n IN SELECT l.node FROM chronicle._log_nodes() l LOOP
                node_end := chronicle._on_node(n.node, chronicle._node_log_end_sql(n.node));
                IF node_end <> '' THEN
                    end_nodes := end_nodes || n.node;
                    node_ends := node_ends || node_end::chronicle.log_position;
                END IF;
            END LOOP;
        ELSIF NOT _subscribe_as.from_start THEN
            -- The end of what read_all can return now: events below the
            -- snapshot's xmin are final, so nothing can appear behind this
            -- position later; committed events above it are delivered.
            SELECT e.tx_id, e.global_position INTO start
            FROM chronicle.events e
            WHERE e.tx_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY e.tx_id DESC, e.global_position DESC LIMIT 1;
            IF NOT FOUND THEN
                start := ROW('0', 0);
            END IF;
        END IF;

        INSERT INTO chronicle.subscriptions AS s
            (name, category, types, members, start_tx_id, start_position, created_at, owner)
        VALUES (sub_name, _subscribe_as.category, sub_types, 1, start.tx_id, start.global_position, now(),
                caller::regrole)
        ON CONFLICT (name) DO NOTHING;
        IF FOUND THEN
            -- Checkpoints or parked rows under this name belong to no
            -- subscription (no foreign key since 0.2.0: a partial restore, the
            -- owner's own writes): a new subscription must not inherit them.
            -- Nobody can add one now (ack and park find our row only once we
            -- commit), so they go with the latest snapshot.
            PERFORM chronicle._subscription_forget(sub_name);
            INSERT INTO chronicle.subscription_checkpoints AS c
                (subscription, member, node, tx_id, global_position, acked_at)
            SELECT sub_name, 0, x.node, x.tx_id, x.global_position, now()
            FROM unnest(end_nodes, node_ends) AS x(node, tx_id, global_position);
            RETURN;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION chronicle._subscribe_as(oid, text, text, text[], boolean) IS
    'Internal (called by subscribe with the caller): creates the subscription, owned by the caller.';

CREATE OR REPLACE FUNCTION chronicle.poll(name text, max_count int DEFAULT 100, member int DEFAULT 0,
                               members int DEFAULT 1) RETURNS SETOF chronicle.events
    LANGUAGE c VOLATILE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_poll';
COMMENT ON FUNCTION chronicle.poll(text, int, int, int) IS
    'The next events after the member''s checkpoint that match the subscription, in read_all order, without parked events; the same until ack.';

-- One node's page on a Citus cluster (src/subscriptions/poll.cpp), run there
-- by chronicle.poll_nodes (src/citus/citus.sql) with the member's checkpoint
-- for that node and the subscription's filters.
CREATE OR REPLACE FUNCTION chronicle._poll_node(name text, after_tx xid8, after_position bigint, max_count int,
                                                member int, members int, category text, types text[])
    RETURNS SETOF chronicle.events
    LANGUAGE c VOLATILE ROWS 100
    AS 'MODULE_PATHNAME', 'chronicle_poll_node';
COMMENT ON FUNCTION chronicle._poll_node(text, xid8, bigint, int, int, int, text, text[]) IS
    'Internal (run by poll_nodes on each node of a Citus cluster): the node''s log after a position that matches a subscription''s filters, without parked events.';

-- Called by poll when the group size it is given is not the subscription's:
-- every member of the new group starts at the lowest checkpoint of the old
-- one (some events come again, none is lost).  A gate like the functions
-- below: poll runs as its caller, and calls this as that caller.
CREATE OR REPLACE FUNCTION chronicle._subscription_resize(name text, members int) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle._subscription_resize(text, int) IS
    'Internal (called by poll): changes a subscription''s group size; every member restarts at the lowest checkpoint of the old group.';

CREATE OR REPLACE FUNCTION chronicle._subscription_resize_as(caller oid, name text, members int) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub record;
    lowest chronicle.log_position;
    acked int;
BEGIN
    -- poll checks members before calling this; a direct call (the function is
    -- granted to chronicle_subscriber) gets poll's codes, not a constraint's.
    IF _subscription_resize_as.members IS NULL THEN
        RAISE EXCEPTION 'members must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF _subscription_resize_as.members NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'members must be between 1 and 1024 (got %)', _subscription_resize_as.members
            USING ERRCODE = '22023';
    END IF;
    SELECT s.members, s.start_tx_id, s.start_position, s.owner INTO sub
    FROM chronicle.subscriptions s WHERE s.name = _subscription_resize_as.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', _subscription_resize_as.name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, _subscription_resize_as.name, sub.owner, 'resize it');
    IF sub.members = _subscription_resize_as.members THEN
        RETURN;
    END IF;
    -- The lock above waited for acks in flight, but under REPEATABLE READ or
    -- SERIALIZABLE an ack committed after this transaction's snapshot stays
    -- invisible: a member's first ack (a new row) would escape the count, the
    -- lowest and the DELETE below, and survive as the checkpoint of the
    -- member with that number in the new group, whose streams differ (events
    -- lost).  A row per old member, inserted ON CONFLICT DO NOTHING, meets
    -- such a row in the primary key, and PostgreSQL then raises 40001
    -- (retry).  Under READ COMMITTED every row is visible and nothing fails.
    -- The rows it adds stand at the start position, which is where a member
    -- without a row stands, and the DELETE removes them again.
    IF chronicle._log_distributed() THEN
        PERFORM chronicle._subscription_resize_nodes(_subscription_resize_as.name, sub.members,
                                                    _subscription_resize_as.members,
                                                    ROW(sub.start_tx_id, sub.start_position));
        RETURN;
    END IF;
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, tx_id, global_position, acked_at)
    SELECT _subscription_resize_as.name, m.m, sub.start_tx_id, sub.start_position, now()
    FROM generate_series(0, sub.members - 1) AS m(m)
    ON CONFLICT (subscription, member, node) DO NOTHING;
    SELECT count(*) INTO acked
    FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize_as.name;
    SELECT c.tx_id, c.global_position INTO lowest
    FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize_as.name
    ORDER BY c.tx_id, c.global_position LIMIT 1;
    -- A member without a row still stands at the start position.
    IF acked < sub.members THEN
        lowest := ROW(sub.start_tx_id, sub.start_position);
    END IF;
    DELETE FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize_as.name;
    UPDATE chronicle.subscriptions s
    SET members = _subscription_resize_as.members, start_tx_id = lowest.tx_id, start_position = lowest.global_position
    WHERE s.name = _subscription_resize_as.name;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_resize_as(oid, text, int) IS
    'Internal (called by _subscription_resize with the caller): the resize.';

-- The same on a Citus cluster, node by node: the log of each node holding
-- shards (and of each node a checkpoint names) has its own lowest checkpoint
-- of the old group, and every member of the new group gets a checkpoint there
-- (the subscription's start stays where it is: on a cluster, the beginning).
-- Called by _subscription_resize with the subscription row locked.
CREATE OR REPLACE FUNCTION chronicle._subscription_resize_nodes(name text, old_members int, new_members int,
                                                               start chronicle.log_position) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    nodes int[];
    low_nodes int[];
    low_positions chronicle.log_position[];
BEGIN
    nodes := ARRAY(SELECT l.node FROM chronicle._log_nodes() l
                   UNION
                   SELECT c.node FROM chronicle.subscription_checkpoints c
                    WHERE c.subscription = _subscription_resize_nodes.name);
    -- As on one server: a row per old member and node, so that an ack
    -- invisible to this snapshot is 40001 rather than left behind.
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, node, tx_id, global_position, acked_at)
    SELECT _subscription_resize_nodes.name, m.m, x.node, start.tx_id, start.global_position, now()
    FROM generate_series(0, old_members - 1) AS m(m), unnest(nodes) AS x(node)
    ON CONFLICT (subscription, member, node) DO NOTHING;
    SELECT array_agg(l.node ORDER BY l.node), array_agg(ROW(l.tx_id, l.global_position)::chronicle.log_position ORDER BY l.node)
      INTO low_nodes, low_positions
      FROM (SELECT DISTINCT ON (c.node) c.node, c.tx_id, c.global_position
              FROM chronicle.subscription_checkpoints c
             WHERE c.subscription = _subscription_resize_nodes.name
             ORDER BY c.node, c.tx_id, c.global_position) l;
    DELETE FROM chronicle.subscription_checkpoints c WHERE c.subscription = _subscription_resize_nodes.name;
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, node, tx_id, global_position, acked_at)
    SELECT _subscription_resize_nodes.name, m.m, x.node, x.tx_id, x.global_position, now()
    FROM generate_series(0, new_members - 1) AS m(m),
         unnest(coalesce(low_nodes, '{}'), coalesce(low_positions, '{}')) AS x(node, tx_id, global_position)
    WHERE (x.tx_id, x.global_position) > (start.tx_id, start.global_position);
    UPDATE chronicle.subscriptions s SET members = new_members WHERE s.name = _subscription_resize_nodes.name;
END
$$;
COMMENT ON FUNCTION chronicle._subscription_resize_nodes(text, int, int, chronicle.log_position) IS
    'Internal (called by _subscription_resize on a Citus cluster): the group size change node by node; every member of the new group starts at each node''s lowest checkpoint of the old one.';

CREATE OR REPLACE FUNCTION chronicle.ack(name text, tx_id xid8, global_position bigint, member int DEFAULT 0,
                                         node int DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.ack(text, xid8, bigint, int, int) IS
    'Moves a member''s checkpoint on a node of the log (0 on one server) forward to (tx_id, global_position); an ack behind the checkpoint changes nothing; SE006 for an unknown subscription, 42501 for another role''s.';

CREATE OR REPLACE FUNCTION chronicle._ack_as(caller oid, name text, tx_id xid8, global_position bigint, member int,
                                            node int)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_ack_as.name);
    m int := coalesce(_ack_as.member, 0);
    n int;
    sub record;
    horizon xid8;
BEGIN
    IF _ack_as.tx_id IS NULL OR _ack_as.global_position IS NULL THEN
        RAISE EXCEPTION 'tx_id and global_position must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- KEY SHARE: a concurrent change of the group size or of the owner, or an
    -- unsubscribe, waits for this ack (each locks the row FOR UPDATE first);
    -- one that committed first is seen (READ COMMITTED re-reads the row) or
    -- is 40001 (REPEATABLE READ).
    SELECT s.members, s.start_tx_id, s.start_position, s.owner INTO sub
    FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, sub_name, sub.owner, 'ack it');
    IF m < 0 OR m >= sub.members THEN
        RAISE EXCEPTION 'member % is out of range for subscription "%" (members: %)', m, sub_name, sub.members
            USING ERRCODE = '22023';
    END IF;
    -- The node whose log the position is in: on one server the only one, 0;
    -- on a Citus cluster a node holding shards, by default this one.  Its
    -- horizon is that node's (docs/design/citus.md).
    IF chronicle._log_distributed() THEN
        n := coalesce(_ack_as.node, chronicle._log_node());
        IF NOT EXISTS (SELECT FROM chronicle._log_nodes() l WHERE l.node = n) THEN
            RAISE EXCEPTION 'node % holds no part of the log of this Citus cluster', n
                USING ERRCODE = '22023',
                      HINT = 'Pass the node of the row chronicle.poll_nodes returned (the Citus group id of the node whose log it is in).';
        END IF;
        horizon := chronicle._on_node(n, 'SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())')::xid8;
    ELSE
        n := coalesce(_ack_as.node, 0);
        IF n <> 0 THEN
            RAISE EXCEPTION 'node must be 0 on an event store that is not distributed (got %)', n
                USING ERRCODE = '22023';
        END IF;
        horizon := pg_snapshot_xmin(pg_current_snapshot());
    END IF;
    -- poll never returns an event at or above the horizon: an ack there
    -- would pass over events that may still be committed.
    IF _ack_as.tx_id >= horizon THEN
        RAISE EXCEPTION 'cannot ack subscription "%" past what poll can return yet', sub_name
            USING ERRCODE = '22023',
                  DETAIL = format('Position (%s, %s); events of transactions from %s on may still be committed.',
                                  _ack_as.tx_id, _ack_as.global_position, horizon);
    END IF;
    IF (_ack_as.tx_id, _ack_as.global_position) <= (sub.start_tx_id, sub.start_position) THEN
        RETURN;  -- behind the checkpoint: never moves it back
    END IF;
    -- ON CONFLICT locks the member's row: concurrent acks of one member queue,
    -- and the later one re-reads the checkpoint the earlier one left.
    INSERT INTO chronicle.subscription_checkpoints AS c (subscription, member, node, tx_id, global_position, acked_at)
    VALUES (sub_name, m, n, _ack_as.tx_id, _ack_as.global_position, now())
    ON CONFLICT (subscription, member, node) DO UPDATE
        SET tx_id = excluded.tx_id, global_position = excluded.global_position, acked_at = excluded.acked_at
        WHERE (c.tx_id, c.global_position) < (excluded.tx_id, excluded.global_position);
END
$$;
COMMENT ON FUNCTION chronicle._ack_as(oid, text, xid8, bigint, int, int) IS
    'Internal (called by ack with the caller): the ack.';

CREATE OR REPLACE FUNCTION chronicle.park(name text, event_id uuid, error text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.park(text, uuid, text) IS
    'Parks an event for a subscription: later polls skip it; parking it again keeps one row, with the new error and attempts + 1.';

CREATE OR REPLACE FUNCTION chronicle._park_as(caller oid, name text, event_id uuid, error text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_park_as.name);
    sub record;
    ev record;
BEGIN
    IF _park_as.event_id IS NULL OR _park_as.error IS NULL THEN
        RAISE EXCEPTION 'event_id and error must not be NULL' USING ERRCODE = '22004';
    END IF;
    SELECT s.category, s.types, s.owner INTO sub
    FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, sub_name, sub.owner, 'park its events');
    SELECT e.stream_id, e.type INTO ev FROM chronicle.events e WHERE e.event_id = _park_as.event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'event % does not exist', _park_as.event_id USING ERRCODE = '22023';
    END IF;
    IF (sub.category IS NOT NULL AND split_part(ev.stream_id, '-', 1) <> sub.category)
       OR (sub.types IS NOT NULL AND NOT ev.type = ANY (sub.types)) THEN
        RAISE EXCEPTION 'event % (stream "%", type "%") is not delivered by subscription "%"',
                        _park_as.event_id, ev.stream_id, ev.type, sub_name
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO chronicle.parked AS p (subscription, event_id, error, attempts, parked_at)
    VALUES (sub_name, _park_as.event_id, _park_as.error, 1, now())
    ON CONFLICT (subscription, event_id) DO UPDATE
        SET error = excluded.error, attempts = p.attempts + 1, parked_at = excluded.parked_at;
END
$$;
COMMENT ON FUNCTION chronicle._park_as(oid, text, uuid, text) IS
    'Internal (called by park with the caller): the park.';

CREATE OR REPLACE FUNCTION chronicle.replay_parked(name text) RETURNS SETOF chronicle.events
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.replay_parked(text) IS
    'Returns a subscription''s parked events in read_all order and un-parks them (their parked rows are deleted).';

CREATE OR REPLACE FUNCTION chronicle._replay_parked_as(caller oid, name text) RETURNS SETOF chronicle.events
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_replay_parked_as.name);
    sub_owner regrole;
BEGIN
    SELECT s.owner INTO sub_owner FROM chronicle.subscriptions s WHERE s.name = sub_name FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, sub_name, sub_owner, 'replay its parked events');
    IF chronicle._log_distributed() THEN
        RETURN QUERY SELECT * FROM chronicle._replay_parked_nodes(sub_name);
        RETURN;
    END IF;
    -- read_stream upcasts, as every read does.  A concurrent replay_parked
    -- waits on the deleted rows and then returns none of them.
    RETURN QUERY
        WITH unparked AS (
            DELETE FROM chronicle.parked p WHERE p.subscription = sub_name RETURNING p.event_id)
        SELECT r.*
        FROM unparked u
        JOIN chronicle.events e ON e.event_id = u.event_id
        CROSS JOIN LATERAL chronicle.read_stream(e.stream_id, e.version, 1) r
        ORDER BY r.tx_id, r.global_position;
END
$$;
COMMENT ON FUNCTION chronicle._replay_parked_as(oid, text) IS
    'Internal (called by replay_parked with the caller): the replay.';

-- replay_parked on a Citus cluster, where Citus cannot run the statement
-- above (a read_stream per row of a distributed join): the rows are deleted
-- first (a concurrent call waits on them, then finds none), then each event is
-- found by its id and read through read_stream, each node's events in that
-- node's log order, nodes by group id.  Called by replay_parked (SECURITY
-- DEFINER) with the subscription row locked.
CREATE OR REPLACE FUNCTION chronicle._replay_parked_nodes(name text) RETURNS SETOF chronicle.events
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    ids uuid[] := '{}';
    found chronicle.events[] := '{}';
    u record;
    e chronicle.events;
    ev record;
BEGIN
    FOR u IN DELETE FROM chronicle.parked p WHERE p.subscription = _replay_parked_nodes.name RETURNING p.event_id LOOP
        ids := ids || u.event_id;
    END LOOP;
    -- (Sorted apart from the distributed read: the node is Citus's metadata.)
    FOR e IN SELECT * FROM chronicle.events x WHERE x.event_id = ANY (ids) LOOP
        found := found || e;
    END LOOP;
    FOR ev IN
        SELECT x.stream_id, x.version FROM unnest(found) x
         ORDER BY chronicle._stream_node(x.stream_id), x.tx_id, x.global_position
    LOOP
        RETURN QUERY SELECT * FROM chronicle.read_stream(ev.stream_id, ev.version, 1);
    END LOOP;
END
$$;
COMMENT ON FUNCTION chronicle._replay_parked_nodes(text) IS
    'Internal (called by replay_parked on a Citus cluster): un-parks a subscription''s events and returns them, each node''s in its log order.';

-- Internal (called by unsubscribe, granted to nobody).
CREATE OR REPLACE FUNCTION chronicle._subscription_forget(name text) RETURNS void
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'chronicle_subscription_forget';
COMMENT ON FUNCTION chronicle._subscription_forget(text) IS
    'Internal (called by unsubscribe): deletes a subscription''s checkpoints and parked rows, read with the latest snapshot.';

CREATE OR REPLACE FUNCTION chronicle.unsubscribe(name text) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.unsubscribe(text) IS
    'Removes a subscription with its checkpoints and parked events; SE006 if it does not exist, 42501 if it is another role''s.';

CREATE OR REPLACE FUNCTION chronicle._unsubscribe_as(caller oid, name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_unsubscribe_as.name);
    sub_owner regrole;
BEGIN
    -- The row lock first: a concurrent ack or park (KEY SHARE) finishes before.
    SELECT s.owner INTO sub_owner FROM chronicle.subscriptions s WHERE s.name = sub_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, sub_name, sub_owner, 'remove it');
    DELETE FROM chronicle.subscriptions s WHERE s.name = sub_name;
    -- Then its checkpoints and parked rows, read with the latest snapshot: under
    -- REPEATABLE READ an ack or park that committed after this transaction's
    -- snapshot would otherwise survive as an orphan (forget.cpp).
    PERFORM chronicle._subscription_forget(sub_name);
END
$$;
COMMENT ON FUNCTION chronicle._unsubscribe_as(oid, text) IS
    'Internal (called by unsubscribe with the caller): the unsubscribe.';

-- Gives a subscription to another role, with ALTER ... OWNER TO's rule: the
-- caller must be a member of the current owner (USAGE) and of the new one
-- (MEMBER), or a superuser.  Subscriptions of an upgraded 0.1.0 installation
-- belong to the extension's owner until it gives them away.
CREATE OR REPLACE FUNCTION chronicle.alter_subscription_owner(name text, new_owner regrole) RETURNS void
    LANGUAGE c VOLATILE
    AS 'MODULE_PATHNAME', 'chronicle_subscription_gate';
COMMENT ON FUNCTION chronicle.alter_subscription_owner(text, regrole) IS
    'Gives a subscription to another role; the caller must be a member of its owner and of the new owner (or a superuser), else 42501.';

CREATE OR REPLACE FUNCTION chronicle._alter_subscription_owner_as(caller oid, name text, new_owner regrole)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    sub_name text := chronicle._subscription_name(_alter_subscription_owner_as.name);
    sub_owner regrole;
BEGIN
    IF _alter_subscription_owner_as.new_owner IS NULL THEN
        RAISE EXCEPTION 'new_owner must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- A regrole made from a bare OID need not name a role.
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = _alter_subscription_owner_as.new_owner::oid) THEN
        RAISE EXCEPTION 'role with OID % does not exist', _alter_subscription_owner_as.new_owner::oid
            USING ERRCODE = '42704';
    END IF;
    -- FOR UPDATE, not only the UPDATE below: acks, parks and replays in
    -- flight (KEY SHARE, which an UPDATE of a non-key column alone would not
    -- wait for) finish first, and those that follow wait and see the new
    -- owner (subscriptions_owner.spec).
    SELECT s.owner INTO sub_owner FROM chronicle.subscriptions s WHERE s.name = sub_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'subscription "%" does not exist', sub_name USING ERRCODE = 'SE006';
    END IF;
    PERFORM chronicle._subscription_check_owner(caller, sub_name, sub_owner, 'give it away');
    IF NOT pg_has_role(caller, _alter_subscription_owner_as.new_owner::oid, 'MEMBER') THEN
        RAISE EXCEPTION 'must be a member of role % to give it subscription "%"',
                        _alter_subscription_owner_as.new_owner, sub_name
            USING ERRCODE = '42501';
    END IF;
    UPDATE chronicle.subscriptions s SET owner = _alter_subscription_owner_as.new_owner WHERE s.name = sub_name;
END
$$;
COMMENT ON FUNCTION chronicle._alter_subscription_owner_as(oid, text, regrole) IS
    'Internal (called by alter_subscription_owner with the caller): the change of owner.';

-- A member's lag on a node of the log: the committed events after its
-- checkpoint there that it will receive (filters, its share of the streams,
-- parked ones excluded), including those poll does not return yet because an
-- older transaction is still running.  On a Citus cluster the count runs
-- over the shards of that node only (Citus sums it over the workers), since
-- positions compare only within one node's log.
CREATE OR REPLACE FUNCTION chronicle._subscription_lag(name text, category text, types text[], members int,
                                                       member int, node int, tx_id xid8, global_position bigint)
    RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    shards bigint[];
BEGIN
    IF NOT chronicle._log_distributed() THEN
        RETURN (SELECT count(*)
                  FROM chronicle.events e
                 WHERE (e.tx_id, e.global_position) > (_subscription_lag.tx_id, _subscription_lag.global_position)
                   AND (category IS NULL OR pg_catalog.split_part(e.stream_id, '-', 1) = category)
                   AND (types IS NULL OR e.type = ANY (types))
                   AND (members = 1 OR chronicle._stream_member(e.stream_id, members) = member)
                   AND NOT EXISTS (SELECT FROM chronicle.parked p
                                    WHERE p.subscription = _subscription_lag.name AND p.event_id = e.event_id));
    END IF;
    shards := ARRAY(SELECT p.shardid FROM pg_catalog.pg_dist_placement p
                      JOIN pg_catalog.pg_dist_shard s ON s.shardid = p.shardid
                     WHERE s.logicalrelid = 'chronicle.events'::regclass AND p.groupid = node);
    RETURN (SELECT count(*)
              FROM chronicle.events e
             WHERE (e.tx_id, e.global_position) > (_subscription_lag.tx_id, _subscription_lag.global_position)
               AND pg_catalog.get_shard_id_for_distribution_column('chronicle.events', e.stream_id) = ANY (shards)
               AND (category IS NULL OR pg_catalog.split_part(e.stream_id, '-', 1) = category)
               AND (types IS NULL OR e.type = ANY (types))
               AND (members = 1 OR chronicle._stream_member(e.stream_id, members) = member)
               AND NOT EXISTS (SELECT FROM chronicle.parked p
                                WHERE p.subscription = _subscription_lag.name AND p.event_id = e.event_id));
END
$$;
COMMENT ON FUNCTION chronicle._subscription_lag(text, text, text[], int, int, int, xid8, bigint) IS
    'Internal (subscription_status): the committed events after a member''s checkpoint on a node of the log that the member will receive.';

-- One row per member of each subscription's group and node of the log (on
-- one server only node 0): the member's checkpoint there and its lag.
CREATE OR REPLACE VIEW chronicle.subscription_status AS
SELECT s.name,
       m.member,
       ROW(cp.tx_id, cp.global_position)::chronicle.log_position AS checkpoint,
       chronicle._subscription_lag(s.name, s.category, s.types, s.members, m.member, n.node,
                                   cp.tx_id, cp.global_position) AS lag,
       n.node
FROM chronicle.subscriptions s
CROSS JOIN LATERAL pg_catalog.generate_series(0, s.members - 1) AS m(member)
CROSS JOIN chronicle._log_nodes() n
LEFT JOIN chronicle.subscription_checkpoints c
       ON c.subscription = s.name AND c.member = m.member AND c.node = n.node
CROSS JOIN LATERAL (SELECT coalesce(c.tx_id, s.start_tx_id) AS tx_id,
                           coalesce(c.global_position, s.start_position) AS global_position) cp;
COMMENT ON VIEW chronicle.subscription_status IS
    'Each subscription member''s checkpoint and lag (committed events after it that the member will receive), per node of the log (0 on one server).';
