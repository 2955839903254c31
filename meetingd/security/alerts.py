"""Alert rules: turn security events into alerts, with thresholds from config.

:class:`AlertRules` is pure (no I/O): ``feed(event)`` returns the alerts the event
raises, counting events in sliding windows per rule and key. The windows live in
memory: after a restart they start empty (the events themselves are in the log).

Rules and their defaults ([security] in the config):

=====================  =========================================================  =========
rule                   raised when                                                severity
=====================  =========================================================  =========
sign_in_failures       ``alert_sign_in_failures`` (5) failed sign-ins for one     medium
                       account within ``alert_window_minutes`` (15)
password_spray         ``alert_spray_accounts`` (5) distinct accounts failing     high
                       from one address within the window
second_factor_failures ``alert_second_factor_failures`` (3) wrong codes for one   high
                       account within the window
rate_limit_hits        ``alert_rate_limit_hits`` (10) rate-limit refusals for one medium
                       address or member within the window
bulk_admin_changes     ``alert_bulk_admin_changes`` (20) member changes by one    medium
                       administrator within the window
token_reuse            a Socket.IO connect token presented again (at once)        high
member_in_two_places   one member live from two addresses at once (at once)       medium
member_in_two_meetings one member live in two meetings at once (at once)          medium
suspended_account      a suspended/left account signing in or connecting          medium
new_device             an officer key or trustee share used from a new device     medium
witness_refused        a witness refused one of our checkpoints                   high
recovery_code_used     a one-time recovery code was used                          low
=====================  =========================================================  =========
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from meetingd.config import SecuritySettings


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime
    member_id: str | None = None
    address: str | None = None
    meeting_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertDraft:
    """What a rule found; the store merges it into an open alert with the same key."""

    rule: str
    key: str
    severity: str
    summary: str
    member_id: str | None = None
    address: str | None = None
    meeting_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


# kind of event -> (rule, severity, summary template): raised by a single event.
IMMEDIATE: dict[str, tuple[str, str, str]] = {
    "socket_token_reused": (
        "token_reuse",
        "high",
        "a Socket.IO connect token of {member} was presented again from {address}",
    ),
    "member_two_addresses": (
        "member_in_two_places",
        "medium",
        "{member} is live from two addresses at once ({addresses})",
    ),
    "member_two_meetings": (
        "member_in_two_meetings",
        "medium",
        "{member} is live in two meetings at once ({meetings})",
    ),
    "suspended_account_sign_in": (
        "suspended_account",
        "medium",
        "the {status} account {member} signed in with the right password from {address}",
    ),
    "suspended_account_connect": (
        "suspended_account",
        "medium",
        "the {status} account {member} tried to connect from {address}",
    ),
    "officer_key_new_device": (
        "new_device",
        "medium",
        "{member}'s officer key was used from a new device ({address})",
    ),
    "trustee_share_new_device": (
        "new_device",
        "medium",
        "{member}'s trustee share was used from a new device ({address})",
    ),
    "witness_refused_checkpoint": (
        "witness_refused",
        "high",
        "a witness refused a checkpoint of meeting {meeting}",
    ),
    "recovery_code_used": (
        "recovery_code_used",
        "low",
        "{member} used a one-time recovery code from {address}",
    ),
}


class _Window:
    """Timestamps (with a value) within a sliding window."""

    def __init__(self) -> None:
        self.items: deque[tuple[datetime, str]] = deque()

    def add(self, at: datetime, value: str, window: timedelta) -> None:
        self.items.append((at, value))
        while self.items and self.items[0][0] <= at - window:
            self.items.popleft()

    def count(self) -> int:
        return len(self.items)

    def distinct(self) -> set[str]:
        return {v for _at, v in self.items}


class AlertRules:
    def __init__(self, settings: SecuritySettings) -> None:
        self.s = settings
        self.window = timedelta(minutes=settings.alert_window_minutes)
        self._windows: dict[tuple[str, str], _Window] = {}

    def _add(self, rule: str, key: str, ev: Event, value: str = "") -> _Window:
        w = self._windows.setdefault((rule, key), _Window())
        w.add(ev.at, value, self.window)
        if len(self._windows) > 10_000:  # many keys from an attack: drop the quietest
            for k in [k for k, v in self._windows.items() if not v.items][:5000]:
                del self._windows[k]
        return w

    def feed(self, ev: Event) -> list[AlertDraft]:
        out: list[AlertDraft] = []
        member, address = ev.member_id or "?", ev.address or "?"
        fmt = {
            "member": member,
            "address": address,
            "meeting": ev.meeting_id,
            **{k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in ev.details.items()},
        }
        fmt.setdefault("status", "inactive")
        if ev.kind in IMMEDIATE:
            rule, severity, text = IMMEDIATE[ev.kind]
            key = {
                "member_in_two_places": member,
                "member_in_two_meetings": member,
                "witness_refused": str(ev.meeting_id),
            }.get(rule, f"{member}@{address}")
            out.append(
                AlertDraft(
                    rule,
                    key,
                    severity,
                    _format(text, fmt),
                    ev.member_id,
                    ev.address,
                    ev.meeting_id,
                    dict(ev.details),
                )
            )
        threshold = self._thresholds().get(ev.kind)
        if threshold is not None:
            for rule, key, limit, distinct, severity, text in threshold(ev):
                w = self._add(rule, key, ev, member)
                n = len(w.distinct()) if distinct else w.count()
                if n >= limit:
                    details: dict[str, Any] = {"count": n, "window_minutes": self.s.alert_window_minutes}
                    if distinct:
                        details["accounts"] = sorted(w.distinct())[:50]
                    out.append(
                        AlertDraft(
                            rule,
                            key,
                            severity,
                            _format(text, {**fmt, "count": n}),
                            ev.member_id if not distinct else None,
                            ev.address,
                            ev.meeting_id,
                            details,
                        )
                    )
        return out

    def _thresholds(self) -> dict[str, Callable[[Event], list[tuple[str, str, int, bool, str, str]]]]:
        s = self.s

        def sign_in(ev: Event) -> list[tuple[str, str, int, bool, str, str]]:
            return [
                (
                    "sign_in_failures",
                    ev.member_id or "?",
                    s.alert_sign_in_failures,
                    False,
                    "medium",
                    "{count} failed sign-ins for {member}",
                ),
                (
                    "password_spray",
                    ev.address or "?",
                    s.alert_spray_accounts,
                    True,
                    "high",
                    "password spray: {count} accounts failed to sign in from {address}",
                ),
            ]

        return {
            "sign_in_failed": sign_in,
            "second_factor_failed": lambda ev: [
                (
                    "second_factor_failures",
                    ev.member_id or "?",
                    s.alert_second_factor_failures,
                    False,
                    "high",
                    "{count} wrong second-factor codes for {member}",
                )
            ],
            "rate_limited": lambda ev: [
                (
                    "rate_limit_hits",
                    ev.address or ev.member_id or "?",
                    s.alert_rate_limit_hits,
                    False,
                    "medium",
                    "{count} rate-limit refusals for {address}",
                )
            ],
            "admin_member_changed": lambda ev: [
                (
                    "bulk_admin_changes",
                    ev.member_id or "?",
                    s.alert_bulk_admin_changes,
                    False,
                    "medium",
                    "{member} made {count} member changes",
                )
            ],
        }


def _format(text: str, values: dict[str, Any]) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text
