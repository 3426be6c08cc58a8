-- A database as an operator would have it: events in several streams and
-- categories, event types, upcasters, rules and function reducers, snapshots,
-- a projection with rows, a subscription with checkpoints and a parked event,
-- and an attached tree with a scope column.  Used by test/restore and
-- test/pg_upgrade; checks.sql reads everything back.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION chronicle;

SELECT chronicle.define_event_type('Opened', '{"type": "object", "required": ["owner"],
  "properties": {"owner": {"type": "string", "minLength": 1}}}');
SELECT chronicle.define_event_type('Deposited', '{"type": "object", "required": ["amount"],
  "properties": {"amount": {"type": "number"}}}');
-- Payment data at type_version 1 is read as version 3 through two upcasters.
SELECT chronicle.define_upcaster('Paid', 1, '{"rename": {"cust": "customer"}, "set": {"currency": "EUR"}}');
SELECT chronicle.define_upcaster('Paid', 2, '{"rename": {"amount": "total"}, "unset": ["legacy"]}');

SELECT chronicle.define_reducer('balance', '{
  "Opened":    {"set": {"owner": "$.owner", "balance": 0}},
  "Deposited": {"add": {"balance": "$.amount"}},
  "Withdrawn": {"sub": {"balance": "$.amount"}}
}', category => 'acct', snapshot_every => 3);
CREATE FUNCTION public.count_events(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT jsonb_build_object('n', coalesce((state->>'n')::int, 0) + 1, 'last', e.type) $$;
SELECT chronicle.define_reducer('counter', 'public.count_events(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_reducer('payments', '{"Paid": {"add": {"total": "$.total"}, "set": {"currency": "$.currency"}}}',
                                category => 'pay');

SELECT chronicle.define_projection('balances', 'balance', 'public.balances',
                                   '{"owner": "text", "balance": "numeric"}');
SELECT chronicle.subscribe('mailer', category => 'acct');

-- Appends that roll back leave dead rows at the start of chronicle.events;
-- once VACUUM has freed them (below), later appends reuse that space, so the
-- table's physical order is no longer version order (suite.sh checks that
-- it is not), and a dump that copied the table in physical order could not
-- be restored.
BEGIN;
SELECT count(chronicle.append('rolledback-1', 'Junk', jsonb_build_object('pad', repeat('x', 500))))
FROM generate_series(1, 200);
ROLLBACK;

SELECT chronicle.append('acct-' || i, 'Opened', jsonb_build_object('owner', 'owner ' || i))
FROM generate_series(1, 6) i;
SELECT chronicle.append_batch('acct-' || i, jsonb_build_array(
           jsonb_build_object('type', 'Deposited', 'data', jsonb_build_object('amount', i * 10)),
           jsonb_build_object('type', 'Deposited', 'data', jsonb_build_object('amount', 2.5)),
           jsonb_build_object('type', 'Withdrawn', 'data', jsonb_build_object('amount', i),
                              'metadata', jsonb_build_object('by', 'teller'))))
FROM generate_series(1, 6) i;
VACUUM chronicle.events;
-- A new session: its first insert asks the free space map, which now offers
-- the first pages.
\c
SET client_min_messages = warning;
SELECT chronicle.append('acct-1', 'Deposited', '{"amount": 1}', expected_version => 4);
SELECT chronicle.append_batch('pay-' || i, jsonb_build_array(
           jsonb_build_object('type', 'Paid', 'type_version', 1,
                              'data', jsonb_build_object('cust', 'c' || i, 'amount', i, 'legacy', true)),
           jsonb_build_object('type', 'Paid', 'type_version', 3,
                              'data', jsonb_build_object('customer', 'c' || i, 'total', 7, 'currency', 'USD'))))
FROM generate_series(1, 4) i;
SELECT chronicle.append('misc-' || (i % 3), 'Noted', jsonb_build_object('i', i, 'text', 'ünïcode ' || i))
FROM generate_series(1, 12) i;
SELECT chronicle.take_snapshot('misc-1', 'counter');

-- The subscription: two acknowledged pages, one parked event.
SELECT chronicle.park('mailer', (SELECT event_id FROM chronicle.events WHERE stream_id = 'acct-3' AND version = 2),
                      'smtp down');
DO $$
DECLARE
    last record;
BEGIN
    SELECT tx_id, global_position INTO last
    FROM chronicle.poll('mailer', max_count => 5) ORDER BY tx_id DESC, global_position DESC LIMIT 1;
    PERFORM chronicle.ack('mailer', last.tx_id, last.global_position);
END $$;

-- A tree with a scope column, numbered by chronicle.
CREATE TABLE public.menu (id int PRIMARY KEY, parent_id int, site text NOT NULL, name text);
SELECT chronicle.tree_attach('public.menu', scope_column => 'site');
INSERT INTO public.menu VALUES (1, NULL, 'a', 'home'), (2, 1, 'a', 'news'), (3, 1, 'a', 'about'),
                               (4, NULL, 'b', 'home'), (5, 4, 'b', 'shop'), (6, 5, 'b', 'cart');
SELECT chronicle.tree_insert('public.menu', '{"id": 7, "site": "a", "name": "first"}', 1, 'first_child');
SELECT chronicle.tree_move('public.menu', 3, 2);
UPDATE public.menu SET parent_id = 4, site = 'b' WHERE id = 2;
