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
    RESERVED_NAMES,
    SCOPES,
    SERVICE_SUFFIXES,
    DeviceTopic,
    TopicError,
    alerts_topic,
    assign_topic,
    city_topic,
    class_namespace,
    class_topic,
    control_answer_topic,
    control_topic,
    parse_topic,
    scenario_state_topic,
    scenario_topic,
)
from contract.vocabulary import METRICS, Metric

__all__ = [
    "CITY_EXAMPLE",
    "CLASS_EXAMPLE",
    "INGEST_SUBSCRIPTIONS",
    "KINDS",
    "METRICS",
    "METRICS_BY_KIND",
    "RESERVED_NAMES",
    "SCOPES",
    "SERVICE_SUFFIXES",
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
    "parse_topic",
    "scenario_state_topic",
    "scenario_topic",
]
