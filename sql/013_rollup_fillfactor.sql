-- Each run of the rollups rewrites the rows of every hour and day a device reported in:
-- with room left on each page the new row version stays on its page (no index entry is
-- added), which made the merge about a quarter faster (1.2 M rows, bench/storage.py's fleet).
-- Pages written from now on keep the room; the hypertable passes it on to its chunks.
ALTER TABLE rollup_hourly SET (fillfactor = 70);
ALTER TABLE rollup_daily SET (fillfactor = 70);
