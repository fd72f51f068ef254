"""smartcity: the command line, settings and shared vocabulary that wire the platform together.

Importing this package does nothing but define names: no connection, file or thread.
"""

__version__ = "0.1.0"
