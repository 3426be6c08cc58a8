-- Everything populate.sql wrote, as one line per object: a count and a digest
-- of the content.  Two databases with the same lines hold the same data.
\pset tuples_only on
\pset format unaligned
SELECT 'events', count(*), md5(coalesce(string_agg(e::text, ';' ORDER BY global_position), '')) FROM chronicle.events e;
SELECT 'streams', count(*), md5(coalesce(string_agg(s::text, ';' ORDER BY stream_id), '')) FROM chronicle.streams s;
SELECT 'reducers', count(*), md5(coalesce(string_agg(r::text, ';' ORDER BY name), '')) FROM chronicle.reducers r;
SELECT 'event_types', count(*), md5(coalesce(string_agg(t::text, ';' ORDER BY type, type_version), '')) FROM chronicle.event_types t;
SELECT 'upcasters', count(*), md5(coalesce(string_agg(u::text, ';' ORDER BY type, from_version), '')) FROM chronicle.upcasters u;
SELECT 'event_type_owners', count(*), md5(coalesce(string_agg(o::text, ';' ORDER BY type), '')) FROM chronicle.event_type_owners o;
SELECT 'projections', count(*), md5(coalesce(string_agg(p::text, ';' ORDER BY name), '')) FROM chronicle.projections p;
SELECT 'projection_rows', count(*), md5(coalesce(string_agg(b::text, ';' ORDER BY stream_id), '')) FROM public.balances b;
SELECT 'subscriptions', count(*), md5(coalesce(string_agg(s::text, ';' ORDER BY name), '')) FROM chronicle.subscriptions s;
SELECT 'checkpoints', count(*), md5(coalesce(string_agg(c::text, ';' ORDER BY subscription, member), '')) FROM chronicle.subscription_checkpoints c;
SELECT 'parked', count(*), md5(coalesce(string_agg(p::text, ';' ORDER BY subscription, event_id), '')) FROM chronicle.parked p;
SELECT 'tree_tables', count(*), md5(coalesce(string_agg(t::text, ';' ORDER BY tbl::text), '')) FROM chronicle._tree_tables t;
SELECT 'tree_rows', count(*), md5(coalesce(string_agg(m::text, ';' ORDER BY id), '')) FROM public.menu m;
SELECT 'replays', count(*), md5(coalesce(string_agg(stream_id || ':' || r || '=' || coalesce(chronicle.replay(stream_id, r)::text, 'null'), ';' ORDER BY stream_id, r), ''))
FROM chronicle.streams, unnest(ARRAY['balance', 'counter', 'payments']) r
WHERE (r = 'balance' AND category = 'acct') OR (r = 'payments' AND category = 'pay') OR r = 'counter';
SELECT 'read_all', count(*), md5(coalesce(string_agg(a::text, ';' ORDER BY tx_id, global_position), '')) FROM chronicle.read_all(max_count => 100000) a;
SELECT 'verify_problems', count(*), coalesce(string_agg(v::text, ';'), '') FROM chronicle.verify() v;
SELECT 'tree_problems', count(*), coalesce(string_agg(v::text, ';'), '') FROM chronicle.tree_validate('public.menu') v;
SELECT 'sequence_ahead', (SELECT last_value FROM chronicle.global_position_seq) >= (SELECT max(global_position) FROM chronicle.events);
