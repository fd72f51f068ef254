-- Rollups that keep up with a city-sized ingest: a batch logs, per (device, hour), the
-- aggregates of the readings it stored for each metric (count, sum, min, max, the last
-- value and its time: arrays, one element a metric), and the rollup job merges them into
-- the hour, instead of reading the device's readings back from the table at every run
-- (the work grew with every report of the hour: at 100,000 readings/s it outgrew ingest).
-- A row without metrics keeps its old meaning: recompute every metric of the device's
-- hour from the readings (bulk loads, restores, a batch holding redeliveries). Hours on
-- days already archived are recomputed from the archive whatever their rows carry.
ALTER TABLE rollup_log
    ADD COLUMN metrics   text[] COLLATE "C",
    ADD COLUMN n         integer[],
    ADD COLUMN sum       double precision[],
    ADD COLUMN min       double precision[],
    ADD COLUMN max       double precision[],
    ADD COLUMN last      double precision[],
    ADD COLUMN last_time timestamptz[];
