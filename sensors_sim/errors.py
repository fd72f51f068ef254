"""Errors of the simulator.

SimError
├── FleetError      the fleet description cannot be simulated
├── ScenarioError   a scenario request cannot be carried out
└── ControlError    a student's control request cannot be carried out
"""


class SimError(Exception):
    """Base of every error this package raises on purpose."""


class FleetError(SimError):
    """The fleet given to the simulator is not usable; the message names the problem."""


class ScenarioError(SimError):
    """A scenario request names an unknown scenario or an impossible window."""


class ControlError(SimError):
    """A student's control request cannot be carried out; the message says why."""
