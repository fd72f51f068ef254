"""Guards for students' messages: account state, rates and device counts (pure, no I/O).

The broker refuses what its ACL forbids; these checks make ingest refuse, with a reason
the student sees on their errors topic, a reading from an account that was revoked or
has expired (even before the broker was told), a burst from a runaway loop, and a flood
of made-up device ids. Every limit counts per account (class, student) and per class,
never per bare device id: one student cannot spend another's allowance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contract.topics import DeviceTopic

__all__ = ["ClassGuard", "ClassLimits", "Member", "RateLimit", "Refusal", "Roster"]

Account = tuple[str, str]  # (class, student)
# Reason codes, as ingest reports them on the errors topic and in dead letters.
ACCOUNT_INACTIVE = "account_inactive"
TOO_MANY_DEVICES = "too_many_devices"
RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a student's message must not be stored: a reason code and a sentence for them."""

    reason: str
    sentence: str
    field: str = "topic"


@dataclass(frozen=True)
class Member:
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True)
class ClassLimits:
    """What one student account and one class may send. 0 turns a rate limit off."""

    account_rate_per_s: float = 5.0
    account_burst: int = 20
    class_rate_per_s: float = 50.0
    class_burst: int = 200
    account_max_devices: int = 10


class Roster:
    """Who may publish under ``class/<class>/<member>/``, as last read from the database.

    Classes not on the roster are not checked: only the service account can publish there.
    """

    def __init__(self, members: dict[Account, Member] | None = None) -> None:
        self._members = dict(members or {})
        self._classes = {c for c, _ in self._members}

    def check(self, topic: DeviceTopic, now: datetime) -> Refusal | None:
        if topic.scope != "class" or topic.group not in self._classes:
            return None
        member = self._members.get((topic.group, topic.owner))
        if member is None:
            return Refusal(ACCOUNT_INACTIVE, f"{topic.owner!r} is not a member of class {topic.group!r}")
        if member.revoked:
            return Refusal(ACCOUNT_INACTIVE, f"the account of {topic.owner!r} was revoked")
        if member.expires_at <= now:
            return Refusal(
                ACCOUNT_INACTIVE,
                f"the account of {topic.owner!r} expired at {member.expires_at.isoformat()}",
            )
        return None


class RateLimit:
    """A token bucket per key: ``per_s`` messages a second on average, bursts up to ``burst``."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, burst
        self._buckets: dict[object, tuple[float, float]] = {}

    def take(self, key: object, now_s: float) -> bool:
        """Spend one token of ``key``'s bucket; False when it is empty (nothing spent)."""
        if self.per_s <= 0:
            return True
        tokens, last = self._buckets.get(key, (float(self.burst), now_s))
        tokens = min(float(self.burst), tokens + (now_s - last) * self.per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now_s)
            return False
        self._buckets[key] = (tokens - 1.0, now_s)
        return True


class ClassGuard:
    """Every check a student's message passes before it may be stored.

    Called from one thread (the MQTT network thread); :meth:`update` may be called from
    another and only swaps references or adds to sets.
    """

    def __init__(self, limits: ClassLimits) -> None:
        self.limits = limits
        self._roster = Roster()
        self._account_rate = RateLimit(limits.account_rate_per_s, limits.account_burst)
        self._class_rate = RateLimit(limits.class_rate_per_s, limits.class_burst)
        self._devices: dict[Account, set[str]] = {}

    def update(self, roster: Roster, devices: Iterable[tuple[str, str, str]] = ()) -> None:
        """A fresh roster, and the class devices stored so far as (class, student, device_id)."""
        self._roster = roster
        for class_id, member, device_id in devices:
            self._devices.setdefault((class_id, member), set()).add(device_id)

    def check(self, topic: DeviceTopic, now: datetime, now_s: float) -> Refusal | None:
        """Why this student's message must not be stored, or None."""
        refusal = self._roster.check(topic, now)
        if refusal is not None:
            return refusal
        account = (topic.group, topic.owner)
        known = self._devices.setdefault(account, set())
        limit = self.limits.account_max_devices
        if topic.device_id not in known and len(known) >= limit:
            return Refusal(
                TOO_MANY_DEVICES,
                f"{topic.owner!r} already has {len(known)} devices in class {topic.group!r} (the limit is {limit}); "
                f"publish under one of them: {', '.join(sorted(d.rsplit('/', 1)[-1] for d in known)[:5])}",
            )
        if not self._account_rate.take(account, now_s):
            return Refusal(
                RATE_LIMITED,
                f"{topic.owner!r} sends faster than {self.limits.account_rate_per_s:g} messages/s "
                f"(bursts of {self.limits.account_burst}); slow down: this message was not stored",
            )
        if not self._class_rate.take(topic.group, now_s):
            return Refusal(
                RATE_LIMITED,
                f"class {topic.group!r} together sends faster than {self.limits.class_rate_per_s:g} messages/s; "
                "this message was not stored",
            )
        known.add(topic.device_id)
        return None
