"""Tables of the minutes beyond the log itself: officers' cosigning keys.

(schema v4; owned by the minutes work — see issue 5)
"""

from __future__ import annotations

from .models import Base  # noqa: F401
