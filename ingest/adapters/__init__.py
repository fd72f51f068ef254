"""Adapters: pure decoders for the device ecosystems cities run, beside ingest's own formats.

Each adapter reads one ecosystem's topics and payloads and returns an :class:`Adapted`
(the device's own identifiers and its values as :class:`~ingest.formats._common.Measure`)
or None for a topic that carries no readings (a join, a status, a last will). Fields
become metrics only through a mapping table (:class:`FieldRule`); a field without a rule
is listed in ``ignored``, never guessed. Ingest validates the values as it does its own.

=================  ==========================================================  ============
name               topics                                                      device id
=================  ==========================================================  ============
``ttn-v3``         ``v3/{app}@{tenant}/devices/{dev}/up``                      ``{device}``
``chirpstack-v4``  ``application/{id}/device/{devEUI}/event/up`` (v3: ``/rx``)  ``{dev_eui}``
``tasmota``        ``tele/{topic}/SENSOR``, ``stat/{topic}/POWER``              ``{device}``
``esphome``        ``{node}/{component}/{object_id}/state``                     ``{device}``
``ha-statestream`` ``{base}/{domain}/{object_id}/state``                        ``{device}``
=================  ==========================================================  ============
"""

from ingest.adapters._fields import Adapted, FieldRule, Mapping, rules_from_config
from ingest.adapters.registry import ADAPTERS, Adapter, adapter_named

__all__ = [
    "ADAPTERS",
    "Adapted",
    "Adapter",
    "FieldRule",
    "Mapping",
    "adapter_named",
    "chirpstack_v4",
    "esphome",
    "ha_statestream",
    "registry",
    "rules_from_config",
    "tasmota",
    "ttn_v3",
]
