-- raw_events: the plain-PostgreSQL baseline of bench_append and
-- bench_instructions: chronicle.events' columns and indexes, no functions, no
-- triggers; versions and positions come from two sequences.
CREATE TABLE raw_events (LIKE chronicle.events INCLUDING DEFAULTS);
ALTER TABLE raw_events ADD PRIMARY KEY (stream_id, version),
    ADD UNIQUE (global_position), ADD UNIQUE (event_id);
CREATE INDEX ON raw_events (tx_id, global_position);
CREATE INDEX ON raw_events (split_part(stream_id, '-', 1), tx_id, global_position);
CREATE SEQUENCE raw_version;
CREATE SEQUENCE raw_position;
