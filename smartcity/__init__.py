"""smartcity: the command line, settings, the local stack and the supervisor that wire the parts together.

Importing this package does nothing but define names: no connection, file or thread.
"""

__version__ = "0.1.0"

__all__ = [
    "analytics_commands",
    "classroom",
    "cli",
    "db",
    "devices_commands",
    "errors",
    "operators",
    "services",
    "settings",
    "simulation",
    "sta_server",
    "stack",
    "storage_commands",
    "supervisor",
    "twin_commands",
]
