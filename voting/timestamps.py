"""Times in the voting core: timezone-aware UTC, passed in by the caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meeting.errors import InvalidInput


def require_utc(now: datetime) -> datetime:
    """Return ``now`` if it is a timezone-aware UTC instant, else raise ``InvalidInput``."""
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInput("time must be a timezone-aware datetime", code="invalid_time")
    if now.utcoffset() != timedelta(0):
        raise InvalidInput("time must be in UTC", code="invalid_time")
    return now.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``2025-11-26T13:20:00.123456Z``: the form used in events."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
