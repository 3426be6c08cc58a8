-- After the update: the upgraded database keeps working (test/upgrade/suite.sh).
\pset format unaligned
\pset tuples_only on
\set ON_ERROR_STOP on
SET search_path = pg_catalog, pg_temp;
SELECT 'extversion ' || extversion FROM pg_extension WHERE extname = 'chronicle';
SELECT 'append ' || chronicle.append('account-1', 'WithdrawalMade', '{"Amount": 0.5}', expected_version => 2);
SELECT 'batch ' || chronicle.append_batch('account-3', '[{"type": "AccountOpened", "data": {"Name": "Cy", "InitialBalance": 1}}]');
SELECT 'replay ' || chronicle.replay('account-1', 'account')::text;
SELECT 'projection ' || stream_id || ' ' || version || ' ' || owner || ' ' || balance FROM public.balances ORDER BY 1;
-- 0.1.0 recorded no projection owner: each one's is its table's owner.
SELECT 'projection_owner ' || name || ' ' || owner FROM chronicle.projections ORDER BY name;
SELECT 'poll ' || stream_id || ' ' || version FROM chronicle.poll('mailer', 10) ORDER BY global_position;
-- Nobody recorded who subscribed under 0.1.0: the extension's owner owns them.
SELECT 'subscription_owner ' || s.name || ' ' || (s.owner::oid = e.extowner)
  FROM chronicle.subscriptions s, pg_extension e WHERE e.extname = 'chronicle' ORDER BY s.name;
-- 0.1.0's checkpoints are positions in the one log, node 0 (docs/design/citus.md):
-- poll went on from them above; an ack moves them on, with or without a node.
SELECT 'checkpoint_nodes ' || string_agg(DISTINCT node::text, ',') FROM chronicle.subscription_checkpoints;
SELECT 'ack ' || count(chronicle.ack('mailer', p.tx_id, p.global_position, node => 0))
  FROM (SELECT tx_id, global_position FROM chronicle.poll('mailer', 3)
         ORDER BY tx_id DESC, global_position DESC LIMIT 1) p;
SELECT 'poll_after_ack ' || stream_id || ' ' || version FROM chronicle.poll('mailer', 10) ORDER BY global_position;
SELECT 'status ' || name || ' ' || member || ' ' || node || ' ' || lag FROM chronicle.subscription_status ORDER BY 1;
SELECT 'snapshot_replay ' || chronicle.replay('account-2', 'counter')::text;
INSERT INTO public.category VALUES (7, 3, 'Tablets');
SELECT 'tree ' || id || ' ' || lft || ' ' || rgt FROM public.category ORDER BY lft;
SELECT 'tree_validate ' || count(*) FROM chronicle.tree_validate('public.category');
SELECT 'verify ' || count(*) FROM chronicle.verify();
-- The chain is v2 now: recomputed here from the documented encoding
-- (docs/design/erasure.md), every stored hash matches.
SELECT 'v2_links ' || count(*) FILTER (WHERE ok) || ' of ' || count(*)
  FROM (SELECT e.hash = sha256(coalesce(lag(e.hash) OVER w, '')
    || int4send(octet_length(e.stream_id)) || convert_to(e.stream_id, 'UTF8')
    || int8send(e.version) || int8send(e.global_position) || uuid_send(e.event_id)
    || int4send(octet_length(e.type)) || convert_to(e.type, 'UTF8') || int4send(e.type_version)
    || int8send((extract(epoch FROM e.recorded_at - '2000-01-01 00:00:00+00') * 1000000)::bigint)
    || int8send(e.tx_id::text::numeric::bigint)
    || int4send(cardinality(e.tags))
    || coalesce((SELECT string_agg(int4send(octet_length(t)) || convert_to(t, 'UTF8'), ''::bytea ORDER BY n)
                   FROM unnest(e.tags) WITH ORDINALITY AS u(t, n)), ''::bytea)
    || sha256(int4send(octet_length(e.data::text)) || convert_to(e.data::text, 'UTF8')
              || int4send(octet_length(e.metadata::text)) || convert_to(e.metadata::text, 'UTF8'))) AS ok
          FROM chronicle.events e WINDOW w AS (PARTITION BY e.stream_id ORDER BY e.version)) links;
-- Digests and redaction work on the upgraded log.
SELECT 'digest_verified ' || count(*) FROM chronicle.verify_digest(chronicle.digest());
SELECT 'redact ' || chronicle.redact('account-3', 1, ARRAY['Name'], 'upgrade test');
SELECT 'verify_after_redact ' || count(*) FROM chronicle.verify();
-- Reducers (issue 10/12): existing ones belong to the extension's owner and
-- keep their function as its qualified signature, the very text define_reducer
-- stores now (defining it again with the same function keeps the revision).
SELECT 'reducer ' || r.name || ' ' || regexp_replace(coalesce(r.fn, '-'), '[0-9]{3,}', 'N') || ' '
       || (r.owner::pg_catalog.oid OPERATOR(pg_catalog.=) e.extowner)::text
  FROM chronicle.reducers r, pg_catalog.pg_extension e
 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle' ORDER BY r.name;
SELECT 'redefine ' || chronicle.define_reducer('counter', 'public.count_events(jsonb, chronicle.events)'::regprocedure);
-- The order column re-sorts under 0.2.0 on a table attached under 0.1.0.
UPDATE public.shelf SET name = 'z' WHERE id = 2;
SELECT 'shelf ' || string_agg(name, ' ' ORDER BY lft) FROM public.shelf WHERE parent_id = 1;
SELECT 'shelf_validate ' || count(*) FROM chronicle.tree_validate('public.shelf');
-- Tags (docs/reference/dcb.md): old events read back untagged; new ones are tagged, found
-- by read_query, and a conditional append sees them.
SELECT 'old_tags ' || count(*) FILTER (WHERE tags = '{}') || ' of ' || count(*) FROM chronicle.read_all(max_count => 100000);
SELECT 'tagged ' || chronicle.append('user-1', 'UserRegistered', '{"username": "alice"}', tags => ARRAY['username:alice']);
SELECT 'read_query ' || stream_id || ' ' || version || ' ' || tags::text
  FROM chronicle.read_query('{"items": [{"tags": ["username:alice"]}]}');
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN '00000'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;
SELECT 'append_events ' || pg_temp.sqlstate_of($q$SELECT * FROM chronicle.append_events(
    '[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]',
    '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}')$q$);
SELECT 'verify_tagged ' || count(*) FROM chronicle.verify();
-- A reducer whose function was dropped under 0.1.0 (its regprocedure was a
-- bare OID, which is no signature): a replay is SE004, as for any function
-- that no longer exists, and the stored text says what happened (above).
CREATE TEMP TABLE gone_replay (result text);
DO $$
BEGIN
    PERFORM chronicle.replay('account-1', 'gone');
    INSERT INTO gone_replay VALUES ('no error');
EXCEPTION WHEN OTHERS THEN
    INSERT INTO gone_replay VALUES (SQLSTATE);
END
$$;
SELECT 'gone_replay ' || result FROM gone_replay;
-- The scoped tree with an order column, attached under 0.1.0.
UPDATE public.aisle SET name = 'b' WHERE id = 2;
INSERT INTO public.aisle VALUES (4, 1, 's1', 'a2'), (12, 10, 's2', 'a');
SELECT 'aisle ' || store || ' ' || string_agg(name, ' ' ORDER BY lft) FROM public.aisle GROUP BY store ORDER BY store;
SELECT 'aisle_validate ' || count(*) FROM chronicle.tree_validate('public.aisle');
-- Its lock trigger now carries the attachment (what Citus copies to shards),
-- as tree_attach writes it today.
SELECT 'aisle_lock ' || replace(pg_catalog.encode(tgargs, 'escape'), '\000', ' ') FROM pg_catalog.pg_trigger
 WHERE tgrelid = 'public.aisle'::regclass AND tgname = 'chronicle_tree_1_lock';
SELECT 'aisle_ids ' || ids_unique_in FROM chronicle._tree_tables WHERE tbl = 'public.aisle'::regclass;
-- The projection in another schema follows appends.
SELECT 'reports ' || stream_id || ' ' || version || ' ' || balance FROM reports.balances ORDER BY 1;
-- The group of three keeps its checkpoints.
SELECT 'group3 ' || member || ' ' || lag FROM chronicle.subscription_status WHERE name = 'group3' ORDER BY member;
-- Nothing of the default privileges reached chronicle's objects.
SELECT 'spy ' || count(*) FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
 WHERE c.relnamespace = 'chronicle'::regnamespace AND a.grantee = 'upgrade_spy'::regrole;
SELECT 'spy_fn ' || count(*) FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.pronamespace = 'chronicle'::regnamespace AND a.grantee = 'upgrade_spy'::regrole;
-- Event types (sql/security_event_types.sql): every 0.1.0 type with a schema
-- or an upcaster belongs to the extension's owner, so a writer may not
-- redefine it nor give it an upcaster, and may still define a type of its own.
SELECT 'event_type_owner ' || o.type || ' ' || (o.owner::pg_catalog.oid OPERATOR(pg_catalog.=) e.extowner)::text
  FROM chronicle.event_type_owners o, pg_catalog.pg_extension e
 WHERE e.extname OPERATOR(pg_catalog.=) 'chronicle' ORDER BY o.type;
CREATE ROLE upgrade_type_writer IN ROLE chronicle_writer;
SET ROLE upgrade_type_writer;
SELECT 'writer_redefine ' || pg_temp.sqlstate_of($q$SELECT chronicle.define_event_type('DepositMade', '{"type": "object"}')$q$);
SELECT 'writer_upcaster ' || pg_temp.sqlstate_of($q$SELECT chronicle.define_upcaster('AccountOpened', 1, '{"set": {"Owner": "x"}}')$q$);
SELECT 'writer_own ' || pg_temp.sqlstate_of($q$SELECT chronicle.define_event_type('UpgradeOwn', '{"type": "object"}')$q$);
RESET ROLE;
SELECT 'event_type_owner ' || type || ' ' || owner::text FROM chronicle.event_type_owners WHERE type = 'UpgradeOwn';
DELETE FROM chronicle.event_types WHERE type = 'UpgradeOwn';
DELETE FROM chronicle.event_type_owners WHERE type = 'UpgradeOwn';
DROP ROLE upgrade_type_writer;
