"""A live city through the real broker and database: forecasts and anomalies land in their
tables, and a new episode is heard on the alerts topic within the stated latency."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ingest.bulk import BulkWriter
from ingest.worker import IngestWorker
from sensors_sim.backfill import backfill
from sensors_sim.publisher import payload_for, topic_for
from smartcity import services
from smartcity.settings import Settings
from tests.fixtures.services import mosquitto_pub, wait_for
from tests.fixtures.stack import Broker

DETECT_LATENCY_S = 60.0  # the figure: new data scored within a minute of arrival


def test_live_city_gets_forecasts_anomalies_and_alerts_within_a_minute(  # noqa: PLR0917 - fixtures
    conn: psycopg.Connection[tuple[object, ...]], broker: Broker, ingest: IngestWorker, unique: str,
    settings: Settings, dsn: str,
) -> None:  # fmt: skip
    devices = [f"air-{unique}-{i}" for i in range(4)]
    fleet = pd.DataFrame({"device_id": devices, "kind": ["air"] * len(devices)})
    # two days of normal history up to now (older than that, silence would rightly be a dropout)
    end = pd.Timestamp.now(tz="UTC").floor("5min").to_pydatetime()
    with psycopg.connect(dsn) as wconn:
        backfill(wconn, fleet, end - timedelta(days=2), end, interval_s=300, seed=3, anomalies_per_device_day=0,
                 run_id=f"live-{unique}", sink=BulkWriter(wconn))  # fmt: skip
    for device_id in devices:  # registered as a city device would be (ingest does it on first contact)
        conn.execute(
            "INSERT INTO devices (device_id, kind, district) VALUES (%s, 'air', %s) ON CONFLICT DO NOTHING",
            (device_id, settings.district),
        )
    conn.commit()
    started = datetime.now(UTC)
    heard: list[tuple[float, dict[str, object]]] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.username_pw_set(broker.username, broker.password)
    listener.on_message = lambda c, u, msg: heard.append((time.monotonic(), orjson.loads(msg.payload)))
    listener.on_connect = lambda c, u, f, rc, p: c.subscribe(f"alerts/{settings.district}/#", qos=1)
    listener.connect(broker.host, broker.port)
    listener.loop_start()
    live = settings.model_copy(update={"analytics_interval_s": 2.0, "analytics_workers": 1})
    stop = threading.Event()
    loop = threading.Thread(
        target=services.analytics_loop, args=(live, stop), kwargs={"devices": f"air-{unique}-%"}, daemon=True
    )
    loop.start()
    try:
        # the first pass forecasts every series
        assert wait_for(
            lambda: conn.execute(
                "SELECT count(DISTINCT device_id) FROM forecasts WHERE device_id LIKE %s", (f"air-{unique}-%",)
            ).fetchone() == (len(devices),),
            60.0, interval_s=0.5,
        )  # fmt: skip
        # and the district's own series (the mean of its sensors for a concentration)
        district = conn.execute(
            "SELECT avg(yhat), count(*) FROM forecasts WHERE device_id = %s AND metric = 'pm25_ugm3' AND made_at >= %s",
            (f"district:{settings.district}", started),
        ).fetchone()
        sensors = conn.execute(
            "SELECT min(yhat), max(yhat) FROM forecasts WHERE device_id LIKE %s AND metric = 'pm25_ugm3'"
            " AND made_at >= %s",
            (f"air-{unique}-%", started),
        ).fetchone()
        assert district is not None and sensors is not None and district[1] == 24, district
        assert sensors[0] <= district[0] <= sensors[1]
        time.sleep(3)  # a pass with nothing new: the clean history gives no alert
        assert [h for h in heard if h[1]["device_id"] in devices] == []
        sent_at = time.monotonic()
        now = datetime.now(UTC)
        mosquitto_pub(broker, topic_for(settings.district, "air", devices[0]), payload_for(now, {"pm25_ugm3": 880.0}))
        assert wait_for(lambda: any(h[1]["device_id"] == devices[0] for h in heard), DETECT_LATENCY_S, interval_s=0.2)
        heard_at, alert = next(h for h in heard if h[1]["device_id"] == devices[0])
        assert heard_at - sent_at < DETECT_LATENCY_S
        assert alert["metric"] == "pm25_ugm3" and alert["kind"] == "spike", alert
        assert "880" in str(alert["explanation"])
        row = conn.execute(
            "SELECT kind, explanation FROM anomalies WHERE device_id = %s AND metric = 'pm25_ugm3'", (devices[0],)
        ).fetchall()
        assert [r[0] for r in row] == ["spike"]
    finally:
        stop.set()
        loop.join(30)
        listener.loop_stop()
        listener.disconnect()
    assert not loop.is_alive()
