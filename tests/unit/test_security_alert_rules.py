"""Alert rules: thresholds within a sliding window, distinct accounts, single events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from meetingd.config import SecuritySettings
from meetingd.security.alerts import AlertRules, Event

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def fail(member: str, address: str = "10.0.0.9", minutes: float = 0) -> Event:
    return Event("sign_in_failed", T0 + timedelta(minutes=minutes), member, address)


def rules_of(drafts: list) -> list[str]:
    return [d.rule for d in drafts]


def test_failed_sign_ins_for_one_account_alert_at_the_threshold() -> None:
    rules = AlertRules(SecuritySettings())
    out = [rules_of(rules.feed(fail("C1-001", minutes=i))) for i in range(5)]
    assert out[:4] == [[]] * 4
    assert out[4] == ["sign_in_failures"]


def test_failures_spread_beyond_the_window_do_not_alert() -> None:
    rules = AlertRules(SecuritySettings())
    out = [rules_of(rules.feed(fail("C1-001", minutes=i * 4))) for i in range(6)]
    assert all(r == [] for r in out)


def test_a_spray_counts_distinct_accounts_from_one_address() -> None:
    rules = AlertRules(SecuritySettings())
    for i in range(4):
        assert rules.feed(fail(f"C1-00{i}")) == []
        assert rules.feed(fail(f"C1-00{i}")) == []  # the same account twice adds nothing
    drafts = rules.feed(fail("C1-009"))
    assert rules_of(drafts) == ["password_spray"]
    assert drafts[0].severity == "high" and drafts[0].key == "10.0.0.9"
    assert drafts[0].details["accounts"] == ["C1-000", "C1-001", "C1-002", "C1-003", "C1-009"]


def test_thresholds_come_from_the_settings() -> None:
    rules = AlertRules(replace(SecuritySettings(), alert_second_factor_failures=1))
    drafts = rules.feed(Event("second_factor_failed", T0, "C1-CHAIR", "10.0.0.1"))
    assert rules_of(drafts) == ["second_factor_failures"]


def test_a_token_replay_alerts_at_once() -> None:
    drafts = AlertRules(SecuritySettings()).feed(Event("socket_token_reused", T0, "C1-002", "10.0.0.7"))
    assert rules_of(drafts) == ["token_reuse"] and drafts[0].severity == "high"
    assert "10.0.0.7" in drafts[0].summary


def test_events_of_other_modules_raise_their_alerts() -> None:
    rules = AlertRules(SecuritySettings())
    assert rules_of(rules.feed(Event("witness_refused_checkpoint", T0, meeting_id=4))) == ["witness_refused"]
    assert rules_of(rules.feed(Event("trustee_share_new_device", T0, "C1-SEC", "10.0.0.3"))) == ["new_device"]
    assert rules.feed(Event("signed_in", T0, "C1-SEC", "10.0.0.3")) == []


def test_a_hostile_member_id_cannot_break_the_summary() -> None:
    drafts = AlertRules(SecuritySettings()).feed(Event("socket_token_reused", T0, "{0.__class__}", "x"))
    assert "{0.__class__}" in drafts[0].summary
