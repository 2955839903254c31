"""The domain error tree.

Every error carries a stable machine-readable ``code``, nothing about transports: the
HTTP adapter maps the error classes to statuses in one function
(``meetingd.http.http_status``). Adapters answer with one JSON shape
(:func:`error_body`), for HTTP bodies and Socket.IO acks alike::

    {"ok": false, "error": "<code>", "message": "<human text>"}
"""

from __future__ import annotations

from typing import Any


class MeetingError(Exception):
    """Base of every error the core raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(MeetingError):
    """The payload is malformed: wrong type, missing or unknown field, out of range."""

    code = "invalid_input"


class NotAuthenticated(MeetingError):
    """The caller has not proven who they are (or the proof expired)."""

    code = "not_authenticated"


class NotAuthorised(MeetingError):
    """The caller is known but their role does not allow this action."""

    code = "not_authorised"


class NotFound(MeetingError):
    code = "not_found"


class InvalidState(MeetingError):
    """The action is valid in general but not now (e.g. closing a closed meeting)."""

    code = "invalid_state"


class Conflict(MeetingError):
    """The action collides with existing data (e.g. a duplicate member id)."""

    code = "conflict"


class PayloadTooLarge(MeetingError):
    code = "payload_too_large"


class RateLimited(MeetingError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, **details: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **details)
        self.retry_after = retry_after


def error_body(exc: MeetingError) -> dict[str, Any]:
    """The ONE error shape, for HTTP bodies and Socket.IO acks alike."""
    body: dict[str, Any] = {"ok": False, "error": exc.code, "message": exc.message}
    if exc.details:
        body["details"] = exc.details
    return body


INTERNAL_ERROR: dict[str, Any] = {
    "ok": False,
    "error": "internal",
    "message": "internal error; it has been logged",
}
