"""Test set-up: a real TimescaleDB and a real Mosquitto for the whole session.

Addresses come from ``SMARTCITY_TEST_DSN`` and ``SMARTCITY_TEST_MQTT``
(``user:password@host:port``) when set; otherwise the session starts its own private
stack under ``.smartcity/test-stack`` on free ports and stops it at the end.
"""

pytest_plugins = ["tests.fixtures.stack", "tests.fixtures.services", "tests.fixtures.browser"]
