"""Errors raised by the command-line package.

SmartcityError
├── SettingsError      a setting is missing or holds a value that cannot work
├── StackError         the local database cluster or broker cannot be started or reached
│   ├── PortInUseError
│   └── BinaryMissingError
└── MigrationError     a migration failed or a recorded one was edited after it ran
"""


class SmartcityError(Exception):
    """Base of every error this package raises on purpose."""


class SettingsError(SmartcityError):
    """A setting is missing or holds a value that cannot work."""


class StackError(SmartcityError):
    """The local stack cannot be started, stopped or reached."""


class PortInUseError(StackError):
    """A port the stack needs is taken by another process."""


class BinaryMissingError(StackError):
    """A program the stack needs is not installed."""


class MigrationError(SmartcityError):
    """A migration failed, or one already applied was changed afterwards."""
