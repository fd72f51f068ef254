-- Ground truth of the simulator's injected anomalies, so detection can be scored.
CREATE TABLE sim_anomalies (
    run_id      text        NOT NULL,
    device_id   text COLLATE "C" NOT NULL,
    metric      text COLLATE "C" NOT NULL,
    kind        text        NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL CHECK (ended_at >= started_at),
    magnitude   double precision NOT NULL,
    PRIMARY KEY (run_id, device_id, metric, started_at)
);
CREATE INDEX sim_anomalies_time_idx ON sim_anomalies (started_at);
