"""smartcity's shared contract: topics, the metric vocabulary, device kinds, reserved names.

Dependency-free and at the bottom of the flow: every part imports it, it imports
nothing of ours, and nothing else defines a topic pattern or a metric list
(``tests/test_layering.py``).
"""

from contract.kinds import KINDS, METRICS_BY_KIND
from contract.topics import (
    CITY_EXAMPLE,
    CLASS_EXAMPLE,
    INGEST_SUBSCRIPTIONS,
    READINGS_CHANNEL,
    READINGS_LISTENER,
    RESERVED_NAMES,
    SCOPES,
    SERVICE_SUFFIXES,
    STA_CITY_DATASTREAMS,
    STA_OBSERVATIONS,
    STA_VERSION,
    DeviceTopic,
    TopicError,
    alerts_topic,
    assign_topic,
    city_topic,
    class_namespace,
    class_topic,
    control_answer_topic,
    control_topic,
    is_class_device_id,
    parse_topic,
    scenario_state_topic,
    scenario_topic,
    sta_class_filter,
    sta_datastream_id,
    sta_observations_topic,
)
from contract.vocabulary import METRICS, Metric

__all__ = [
    "CITY_EXAMPLE",
    "CLASS_EXAMPLE",
    "INGEST_SUBSCRIPTIONS",
    "KINDS",
    "METRICS",
    "METRICS_BY_KIND",
    "READINGS_CHANNEL",
    "READINGS_LISTENER",
    "RESERVED_NAMES",
    "SCOPES",
    "SERVICE_SUFFIXES",
    "STA_CITY_DATASTREAMS",
    "STA_OBSERVATIONS",
    "STA_VERSION",
    "DeviceTopic",
    "Metric",
    "TopicError",
    "alerts_topic",
    "assign_topic",
    "city_topic",
    "class_namespace",
    "class_topic",
    "control_answer_topic",
    "control_topic",
    "is_class_device_id",
    "parse_topic",
    "scenario_state_topic",
    "scenario_topic",
    "sta_class_filter",
    "sta_datastream_id",
    "sta_observations_topic",
]
