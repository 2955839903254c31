"""Tables of the meeting procedure: attendance register, agenda, speakers, polls, ballots.

(schema v4; owned by the meeting-procedure work — see issue 4)
"""

from __future__ import annotations

from .models import Base  # noqa: F401
