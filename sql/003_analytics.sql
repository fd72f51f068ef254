-- Analytics output: forecasts (a hypertable) and anomaly episodes.
CREATE TABLE forecasts (
    time        timestamptz NOT NULL,
    device_id   text        NOT NULL,
    metric      text        NOT NULL,
    made_at     timestamptz NOT NULL,
    model       text        NOT NULL,
    yhat        double precision NOT NULL,
    lo80        double precision NOT NULL,
    hi80        double precision NOT NULL,
    lo95        double precision NOT NULL,
    hi95        double precision NOT NULL,
    backtest_mae double precision,
    PRIMARY KEY (device_id, metric, made_at, time)
);
SELECT create_hypertable('forecasts', by_range('time', INTERVAL '7 days'));

CREATE TABLE anomalies (
    id           bigserial PRIMARY KEY,
    device_id    text        NOT NULL,
    metric       text        NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    kind         text        NOT NULL,
    severity     double precision NOT NULL,
    explanation  text        NOT NULL,
    detected_at  timestamptz NOT NULL DEFAULT now(),
    acknowledged boolean     NOT NULL DEFAULT false,
    UNIQUE (device_id, metric, started_at, kind)
);
CREATE INDEX anomalies_recent_idx ON anomalies (detected_at DESC);
