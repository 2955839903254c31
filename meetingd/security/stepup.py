"""Step-up: sensitive actions need a second factor used in this session within the last
``[security] step_up_minutes``.

The check is one function, :meth:`StepUp.require`, called by the HTTP routes (cosign,
admin changes to members) and by the Socket.IO commands that declare they need it
(opening and closing polls, overriding quorum: ``signaling.stepup``). Its refusals:

* ``second_factor_required`` (403): the caller's role must have a second factor
  (``second_factor_required_for``) and they have none: enrol one first;
* ``step_up_required`` (401): enter a code (or use a passkey) again, then retry —
  the client asks in place and repeats the action.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from meeting.clock import Clock
from meeting.errors import NotAuthenticated, NotAuthorised

from ..config import SecuritySettings
from .factors import SecondFactors
from .sessions import Sessions


class Principal(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def member_id(self) -> str: ...


class StepUp:
    def __init__(
        self, settings: SecuritySettings, factors: SecondFactors, sessions: Sessions, clock: Clock
    ) -> None:
        self._s, self._factors, self._sessions, self._clock = settings, factors, sessions, clock

    def required_for(self, role: str) -> bool:
        wanted = self._s.second_factor_required_for
        return "member" in wanted or role in wanted

    async def require(self, member: Principal, session_hash: str | None, *, role: str, action: str) -> None:
        """``role``: "admin" or "officer", whoever the action belongs to."""
        if not await self._factors.is_enrolled(member.id):
            if self.required_for(role):
                raise NotAuthorised(
                    f"'{action}' needs a second factor: set up an authenticator app on your "
                    "Security page first",
                    code="second_factor_required",
                    action=action,
                )
            return
        at = await self._sessions.second_factor_at(session_hash)
        window = timedelta(minutes=self._s.step_up_minutes)
        if at is None or at <= self._clock() - window:
            raise NotAuthenticated(
                f"confirm it is you: enter a code from your authenticator app to {action}",
                code="step_up_required",
                action=action,
                within_minutes=self._s.step_up_minutes,
            )
