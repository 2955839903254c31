"""TOTP acceptance against a controlled time: the window, replay, expiry, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meetingd.security import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = datetime(2026, 12, 1, 12, 0, 15, tzinfo=UTC)  # the middle of a step


def code(steps: int = 0) -> str:
    return totp.code_at(SECRET, totp.step_of(T0) + steps)


def refused(c: str, at: datetime = T0, last: int = -1) -> str:
    with pytest.raises(totp.CodeRefused) as info:
        totp.accept(SECRET, c, at, last)
    return info.value.code


def test_matches_the_rfc_6238_sha1_vector() -> None:
    # RFC 6238 appendix B: secret "12345678901234567890", T = 59 s -> 94287082 (8 digits)
    import base64

    import pyotp

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert pyotp.TOTP(secret, digits=8).at(59) == "94287082"


def test_the_current_code_is_accepted_and_names_its_step() -> None:
    assert totp.accept(SECRET, code(), T0, -1) == totp.step_of(T0)


def test_one_step_either_side_is_accepted_for_clock_drift() -> None:
    assert totp.accept(SECRET, code(-1), T0, -1) == totp.step_of(T0) - 1
    assert totp.accept(SECRET, code(+1), T0, -1) == totp.step_of(T0) + 1


def test_two_steps_away_is_refused() -> None:
    assert refused(code(-2)) == "code_expired"
    assert refused(code(+2)) == "code_invalid"


def test_a_used_step_or_an_earlier_one_is_refused_as_reused() -> None:
    step = totp.step_of(T0)
    assert refused(code(), last=step) == "code_reused"
    assert refused(code(-1), last=step) == "code_reused"
    assert totp.accept(SECRET, code(+1), T0, step) == step + 1


def test_the_next_step_after_thirty_seconds_is_accepted() -> None:
    later = T0 + timedelta(seconds=30)
    step = totp.step_of(T0)
    assert totp.accept(SECRET, totp.code_at(SECRET, step + 1), later, step) == step + 1


def test_codes_with_spaces_are_read_and_junk_is_invalid() -> None:
    c = code()
    assert totp.accept(SECRET, f"{c[:3]} {c[3:]}", T0, -1) == totp.step_of(T0)
    for junk in ("", "12345", "abcdef", "1234567", "١٢٣٤٥٦"):
        assert refused(junk) == "code_invalid"


def test_recovery_codes_are_distinct_and_recognised() -> None:
    codes = {totp.new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(totp.looks_like_recovery_code(c) and len(c) == 11 for c in codes)
    assert not totp.looks_like_recovery_code("123456")
    key = b"k" * 32
    c = next(iter(codes))
    assert totp.recovery_hash(key, c) == totp.recovery_hash(key, c.upper().replace("-", " "))


def test_a_sealed_secret_opens_only_with_its_key() -> None:
    key = totp.secret_box_key(b"s" * 32)
    sealed = totp.seal_secret(key, SECRET)
    assert SECRET not in sealed and totp.open_secret(key, sealed) == SECRET
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        totp.open_secret(totp.secret_box_key(b"t" * 32), sealed)


def test_the_qr_code_is_an_svg_data_url() -> None:
    url = totp.qr_data_url(totp.provisioning_uri(SECRET, "C1-CHAIR", "meetingd"))
    assert url.startswith("data:image/svg+xml")
