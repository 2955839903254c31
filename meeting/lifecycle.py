"""The meeting's state machine: scheduled -> open -> closed."""

from __future__ import annotations

from .errors import InvalidState
from .roles import MeetingState

_TRANSITIONS: dict[str, tuple[MeetingState, MeetingState]] = {
    "open": (MeetingState.SCHEDULED, MeetingState.OPEN),
    "close": (MeetingState.OPEN, MeetingState.CLOSED),
}


def transition(state: MeetingState, action: str) -> MeetingState:
    """The state after ``action``, or :class:`InvalidState` naming why not."""
    try:
        source, target = _TRANSITIONS[action]
    except KeyError:
        raise InvalidState(f"unknown meeting action {action!r}") from None
    if state != source:
        raise InvalidState(
            f"cannot {action} a meeting that is {state.value} (it must be {source.value})",
            code="invalid_state",
            state=state.value,
        )
    return target
