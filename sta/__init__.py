"""OGC SensorThings API 1.1 over the city's data: read (Sensing Core, filtering,
dataArray) over HTTP, and new Observations over MQTT.

Downstream of the database, like the dashboard; served by the dashboard's server.
"""

from sta.errors import BadRequest, NotFound, StaError, Unauthorized, Unavailable
from sta.model import ENTITY_TYPES, EntityType, key_columns, observation_id
from sta.odata import Options, parse_expression, parse_options
from sta.queries import Viewer
from sta.service import StaConfig, answer, install

__all__ = [
    "ENTITY_TYPES",
    "BadRequest",
    "EntityType",
    "NotFound",
    "Options",
    "StaConfig",
    "StaError",
    "Unauthorized",
    "Unavailable",
    "Viewer",
    "answer",
    "install",
    "key_columns",
    "observation_id",
    "parse_expression",
    "parse_options",
]
