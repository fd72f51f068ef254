"""The SensorThings MQTT extension, receiving side: new Observations published on
``v1.1/Datastreams('<id>')/Observations`` (and city ones on ``v1.1/Observations``) as
ingest commits them.

Ingest announces each committed batch on a database channel (``ingest.announce``); this
bridge LISTENs and publishes one Observation document per reading, at QoS 0 as the
standard's clients expect. A class device's Observations go only to its Datastream's
topic, which the broker's ACL lets only its owner, its teacher and operators read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import psycopg

from contract import READINGS_LISTENER, STA_OBSERVATIONS, is_class_device_id, sta_datastream_id, sta_observations_topic
from sta import queries
from sta.model import observation_id
from sta.render import iso
from sta.resources import quoted_id

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Publish = Callable[[str, bytes], None]


def messages(payload: str, base: str) -> list[tuple[str, bytes]]:
    """(topic, Observation document) pairs for one announcement; malformed entries are skipped
    (the announcement is ours, but a bridge must not stop on one bad entry)."""
    try:
        rows = orjson.loads(payload)
    except orjson.JSONDecodeError:
        log.warning("an announcement that is not JSON was skipped: %.80r", payload)
        return []
    out: list[tuple[str, bytes]] = []
    for row in rows if isinstance(rows, list) else ():
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[2], int)):
            continue
        device, metric, micros, value = row
        if not isinstance(device, str) or not isinstance(metric, str) or not isinstance(value, int | float):
            continue
        when = _EPOCH + timedelta(microseconds=micros)
        oid = observation_id(device, metric, when)
        document = orjson.dumps({
            "@iot.id": oid,
            "@iot.selfLink": f"{base}/Observations({quoted_id(oid)})",
            "phenomenonTime": iso(when),
            "resultTime": iso(when),
            "result": value,
            "Datastream@iot.navigationLink": f"{base}/Datastreams({quoted_id(sta_datastream_id(device, metric))})",
            "FeatureOfInterest@iot.navigationLink": f"{base}/Observations({quoted_id(oid)})/FeatureOfInterest",
        })  # fmt: skip
        out.append((sta_observations_topic(device, metric), document))
        if not is_class_device_id(device):
            out.append((STA_OBSERVATIONS, document))
    return out


def run(dsn: str, base: str, publish: Publish, stop: threading.Event) -> None:
    """Listen and publish until ``stop`` is set; a lost database is waited for, not fatal."""
    delay_s = 0.5
    while not stop.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=READINGS_LISTENER) as conn:
                conn.execute(queries.LISTEN_READINGS)
                delay_s = 0.5
                while not stop.is_set():
                    for note in conn.notifies(timeout=1.0):
                        for topic, document in messages(note.payload, base):
                            publish(topic, document)
                        if stop.is_set():
                            break
        except psycopg.OperationalError as exc:
            log.warning("SensorThings MQTT bridge: database unavailable (%s); retrying in %.1f s", exc, delay_s)
            stop.wait(delay_s)
            delay_s = min(delay_s * 2, 10.0)


def start(dsn: str, base: str, publish: Publish) -> tuple[threading.Thread, threading.Event]:
    """The bridge on a daemon thread; set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(dsn, base, publish, stop), name="sta-mqtt", daemon=True)
    thread.start()
    return thread, stop
