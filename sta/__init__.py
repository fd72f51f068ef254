"""OGC SensorThings API 1.1 over the city's data: read (Sensing Core, filtering,
dataArray) over HTTP (``sta.service``), and new Observations over MQTT (``sta.mqtt``).

Downstream of the database, like the dashboard; served by the dashboard's server.
"""

__all__ = ["errors", "model", "mqtt", "odata", "queries", "render", "resources", "service"]
