-- Every read function of the event store (docs/reference/events.md), on primary and standby.
SELECT chronicle.stream_version('account-1'), chronicle.stream_version('account-2'),
       chronicle.stream_version('nobody');
SELECT * FROM chronicle.read_stream('account-1');
SELECT * FROM chronicle.read_stream('account-1', 2, 1);
SELECT * FROM chronicle.read_stream('account-1', backward => true, max_count => 2);
SELECT * FROM chronicle.read_all();
SELECT * FROM chronicle.read_all(max_count => 2);
SELECT r.* FROM chronicle.events b, chronicle.read_all(b.tx_id, b.global_position) r
WHERE b.stream_id = 'account-1' AND b.version = 1;
SELECT * FROM chronicle.read_all(category => 'account', types => ARRAY['Deposited']);
SELECT * FROM chronicle.verify();
SELECT * FROM chronicle.verify('account-2');
SELECT * FROM chronicle.streams ORDER BY stream_id;
