"""Guards for students' messages: account state and a per-device rate limit (pure, thread-safe enough).

The broker refuses what its ACL forbids; these checks make ingest refuse, with a reason
the student sees on their errors topic, a reading from an account that was revoked or
has expired (even before the broker was told) and a burst from a runaway loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.models import DeviceTopic, Reason, Rejection


@dataclass(frozen=True)
class Member:
    expires_at: datetime
    revoked: bool


class Roster:
    """Who may publish under ``class/<class>/<member>/``, as last read from the database.

    Classes not on the roster are not checked (the demo's anonymous trials).
    """

    def __init__(self, members: dict[tuple[str, str], Member] | None = None) -> None:
        self._members = dict(members or {})
        self._classes = {c for c, _ in self._members}

    def check(self, topic: DeviceTopic, now: datetime) -> Rejection | None:
        if topic.scope != "class" or topic.group not in self._classes:
            return None
        member = self._members.get((topic.group, topic.owner))
        if member is None:
            return Rejection(
                Reason.ACCOUNT_INACTIVE, f"{topic.owner!r} is not a member of class {topic.group!r}", "topic"
            )
        if member.revoked:
            return Rejection(Reason.ACCOUNT_INACTIVE, f"the account of {topic.owner!r} was revoked", "topic")
        if member.expires_at <= now:
            return Rejection(
                Reason.ACCOUNT_INACTIVE,
                f"the account of {topic.owner!r} expired at {member.expires_at.isoformat()}",
                "topic",
            )
        return None


class RateLimit:
    """A token bucket per device: ``per_s`` messages a second on average, bursts up to ``burst``."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, device_id: str, now_s: float) -> Rejection | None:
        if self.per_s <= 0:
            return None
        tokens, last = self._buckets.get(device_id, (float(self.burst), now_s))
        tokens = min(float(self.burst), tokens + (now_s - last) * self.per_s)
        if tokens < 1.0:
            self._buckets[device_id] = (tokens, now_s)
            return Rejection(
                Reason.RATE_LIMITED,
                f"device {device_id!r} sends faster than {self.per_s:g} messages/s (bursts of {self.burst}); "
                "slow down: this message was not stored",
                "topic",
            )
        self._buckets[device_id] = (tokens - 1.0, now_s)
        return None
