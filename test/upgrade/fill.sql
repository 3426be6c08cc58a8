-- A populated 0.1.0 database: every kind of object chronicle stores, made
-- through the 0.1.0 functions.  Run by test/upgrade/suite.sh before the update.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION chronicle VERSION '0.1.0';

SELECT chronicle.define_reducer('account', '{
  "AccountOpened":  {"set": {"owner": "$.Owner", "balance": "$.InitialBalance"}},
  "DepositMade":    {"add": {"balance": "$.Amount"}},
  "WithdrawalMade": {"sub": {"balance": "$.Amount"}}
}', 'account', 2);
CREATE FUNCTION public.count_events(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_catalog.jsonb_build_object('n', coalesce((state ->> 'n')::int, 0) + 1) $$;
SELECT chronicle.define_reducer('counter', 'public.count_events(jsonb, chronicle.events)'::regprocedure);
SELECT chronicle.define_event_type('DepositMade',
    '{"type": "object", "properties": {"Amount": {"type": "number"}}, "required": ["Amount"]}');
SELECT chronicle.define_upcaster('AccountOpened', 1, '{"rename": {"Name": "Owner"}}');

SELECT chronicle.append('account-1', 'AccountOpened', '{"Name": "Ann", "InitialBalance": 10}');
SELECT chronicle.append('account-1', 'DepositMade', '{"Amount": 5.5}', expected_version => 1);
SELECT chronicle.append_batch('account-2', '[
    {"type": "AccountOpened", "data": {"Name": "Bob", "InitialBalance": 0}},
    {"type": "DepositMade", "data": {"Amount": 100}},
    {"type": "WithdrawalMade", "data": {"Amount": 30}}]');
SELECT chronicle.append('order-7', 'OrderPlaced', '{"total": 12}', '{"correlation_id": "c-1"}');
SELECT chronicle.take_snapshot('account-2', 'counter');

SELECT chronicle.define_projection('balances', 'account', 'public.balances',
                                   '{"owner": "text", "balance": "numeric"}');
SELECT chronicle.subscribe('mailer', 'account');
SELECT count(*) FROM chronicle.poll('mailer', 2);
SELECT chronicle.ack('mailer', tx_id, global_position)
  FROM chronicle.read_all(max_count => 1, category => 'account');
SELECT chronicle.park('mailer', event_id, 'bounced')
  FROM chronicle.read_stream('account-2', 3, 1);

CREATE TABLE public.category (id int PRIMARY KEY, parent_id int REFERENCES public.category, name text);
SELECT chronicle.tree_attach('public.category');
INSERT INTO public.category VALUES (1, NULL, 'Home'), (2, 1, 'About'), (3, 1, 'Products'),
                                   (4, 3, 'Laptops'), (5, 3, 'Phones'), (6, 1, 'Contact');
SELECT chronicle.tree_move('public.category', 6, 3, 'first_child');

-- A tree with an order column (0.2.0 re-sorts a node when that column changes).
CREATE TABLE public.shelf (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('public.shelf', order_column => 'name');
INSERT INTO public.shelf VALUES (1, NULL, 'shelf'), (2, 1, 'b'), (3, 1, 'c'), (4, 1, 'd');

-- A scoped tree with an order column.
CREATE TABLE public.aisle (id int PRIMARY KEY, parent_id int REFERENCES public.aisle, store text NOT NULL, name text);
SELECT chronicle.tree_attach('public.aisle', scope_column => 'store', order_column => 'name');
INSERT INTO public.aisle VALUES (1, NULL, 's1', 'root'), (2, 1, 's1', 'c'), (3, 1, 's1', 'a'),
                                (10, NULL, 's2', 'root'), (11, 10, 's2', 'b');
-- A projection whose table lives in another schema.
CREATE SCHEMA reports;
SELECT chronicle.define_projection('report_balances', 'account', 'reports.balances', '{"balance": "numeric"}');
-- ... given to another role (0.2.0 records each projection's owner: its table's).
CREATE ROLE upgrade_reporter IN ROLE chronicle_writer;
GRANT USAGE ON SCHEMA reports TO upgrade_reporter;
ALTER TABLE reports.balances OWNER TO upgrade_reporter;
-- A consumer group of three, two members with checkpoints.
SELECT chronicle.subscribe('group3', 'account');
SELECT m, (SELECT count(*) FROM chronicle.poll('group3', 10, m, 3)) FROM generate_series(0, 2) m;
SELECT chronicle.ack('group3', e.tx_id, e.global_position, 0)
  FROM chronicle.read_all(max_count => 1, category => 'account') e;
SELECT chronicle.ack('group3', e.tx_id, e.global_position, 2)
  FROM chronicle.read_all(max_count => 3, category => 'account') e ORDER BY e.global_position DESC LIMIT 1;
-- A reducer whose function was dropped (a regprocedure column keeps no dependency).
CREATE FUNCTION public.gone(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS $$ SELECT state $$;
SELECT chronicle.define_reducer('gone', 'public.gone(jsonb, chronicle.events)'::regprocedure);
DROP FUNCTION public.gone(jsonb, chronicle.events);
-- Default privileges in force when the update creates objects.
CREATE ROLE upgrade_spy;
ALTER DEFAULT PRIVILEGES IN SCHEMA chronicle GRANT ALL ON TABLES TO upgrade_spy;
ALTER DEFAULT PRIVILEGES IN SCHEMA chronicle GRANT ALL ON FUNCTIONS TO upgrade_spy;
ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO upgrade_spy;
