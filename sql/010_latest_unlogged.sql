-- The latest value of each series is a cache of the readings, rewritten by every batch:
-- kept out of the write-ahead log it costs ingest a quarter less of the database's time
-- (bench/storage.py: 91k -> 117k readings/s on two cores). A crash empties an unlogged
-- table; ingest rebuilds it from the daily rollups and the hours not yet rolled up
-- before it writes again (ingest.writer.Writer), so nothing the dashboard shows is lost.
-- A streaming replica does not receive it: read latest values from the primary.
ALTER TABLE latest_readings SET UNLOGGED;
