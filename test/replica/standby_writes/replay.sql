-- Defining a reducer writes chronicle.reducers: refused on a standby.
SELECT chronicle.define_reducer('replica_new', '{"E": {"add": {"n": 1}}}'::jsonb)
SELECT chronicle.define_reducer('replica_account', '{"E": {"add": {"n": 2}}}'::jsonb)
