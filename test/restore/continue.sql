-- After a restore or an upgrade: the log, the projection, the subscription
-- and the tree keep working.  Prints one line per check; the suite compares
-- the output with continue.expected.
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
SET client_min_messages = warning;
SELECT max(global_position) AS pos_before, max(tx_id) AS tx_before FROM chronicle.events \gset
-- Versions continue: acct-1 stood at 5.
SELECT 'append_acct1', chronicle.append('acct-1', 'Deposited', '{"amount": 100}', expected_version => 5);
SELECT 'batch_misc1', chronicle.append_batch('misc-1', '[{"type": "Noted", "data": {"i": 99}}, {"type": "Noted", "data": {"i": 100}}]');
SELECT 'new_stream', chronicle.append('acct-7', 'Opened', '{"owner": "late"}', expected_version => 0);
-- The new events come after every restored one, in both orders of the log.
SELECT 'after_old', count(*), bool_and(global_position > :pos_before AND tx_id > :'tx_before'::xid8)
FROM chronicle.events WHERE global_position > :pos_before OR tx_id > :'tx_before'::xid8;
-- The hash chain continues (verify checks every link, the new ones included).
SELECT 'verify_problems', count(*) FROM chronicle.verify();
SELECT 'replay_acct1', chronicle.replay('acct-1', 'balance');
SELECT 'replay_misc1', chronicle.replay('misc-1', 'counter');
SELECT 'replay_pay1', chronicle.replay('pay-1', 'payments');
-- The projection was kept current by the appends.
SELECT 'projection_acct1', owner, balance FROM public.balances WHERE stream_id = 'acct-1';
SELECT 'projection_acct7', owner, balance FROM public.balances WHERE stream_id = 'acct-7';
-- The subscription resumes after its checkpoint and still skips the parked event.
SELECT 'poll', count(*), count(*) FILTER (WHERE stream_id = 'acct-3' AND version = 2),
       count(*) FILTER (WHERE stream_id = 'acct-7')
FROM chronicle.poll('mailer', max_count => 1000);
-- Trees: an insert, a move and a plain INSERT number correctly.
SELECT 'tree_insert', (chronicle.tree_insert('public.menu', '{"id": 8, "site": "a", "name": "late"}', 7, 'last_child'))->>'depth';
SELECT 'tree_move', chronicle.tree_move('public.menu', 6, 2);
INSERT INTO public.menu VALUES (9, 4, 'b', 'plain');
SELECT 'tree_rows', string_agg(id || '@' || site || ':' || lft || '-' || rgt || '/' || depth, ' ' ORDER BY site, lft) FROM public.menu;
SELECT 'tree_problems', count(*) FROM chronicle.tree_validate('public.menu');
-- Writing lft, rgt or depth directly is still refused (TR005).
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SELECT 'direct_update', pg_temp.sqlstate_of('UPDATE public.menu SET lft = 100 WHERE id = 1');
-- An INSERT may bring its own numbers (a data-only restore does) only when
-- they leave every tree it touches valid: not over existing rows, not with a
-- gap, not only some of the three columns, not on only some of the rows.
SELECT 'insert_overlap', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (10, NULL, 'a', 1, 2, 0)$$);
SELECT 'insert_gap', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (10, NULL, 'c', 3, 4, 0)$$);
SELECT 'insert_wrong_depth', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (10, NULL, 'a', 7, 8, 1)$$);
SELECT 'insert_lft_only', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft) VALUES (10, NULL, 'c', 1)$$);
SELECT 'insert_mixed', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (10, NULL, 'c', 1, 2, 0), (11, NULL, 'c', NULL, NULL, NULL)$$);
SELECT 'insert_valid', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (10, NULL, 'a', 7, 10, 0), (11, 10, 'a', 8, 9, 1)$$);
-- The same for a role that may only INSERT into the table.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'menu_inserter') THEN
        CREATE ROLE menu_inserter;
    END IF;
END $$;
GRANT INSERT ON public.menu TO menu_inserter;
SET ROLE menu_inserter;
SELECT 'inserter_overlap', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (12, NULL, 'a', 2, 3, 1)$$);
SELECT 'inserter_update', pg_temp.sqlstate_of($$UPDATE public.menu SET lft = 1$$);
SELECT 'inserter_valid', pg_temp.sqlstate_of($$INSERT INTO public.menu (id, parent_id, site, lft, rgt, depth) VALUES (12, NULL, 'd', 1, 2, 0)$$);
RESET ROLE;
SELECT 'tree_rows_a', string_agg(id || ':' || lft || '-' || rgt || '/' || depth, ' ' ORDER BY lft) FROM public.menu WHERE site = 'a';
SELECT 'tree_problems_end', count(*) FROM chronicle.tree_validate('public.menu');
SELECT 'verify_problems_end', count(*) FROM chronicle.verify();
