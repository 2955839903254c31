"""How often to send a room-wide update so a huge room is not flooded (pure).

A cell's updates go out every tick. In a very large room each update is one send per
connection, and each recipient's client must parse it too, so the interval stretches to
keep the sends at about ``sends_per_s`` a second, never beyond ``ceiling_s``.
"""

from __future__ import annotations


def stretched_interval(recipients: int, sends_per_s: float, floor_s: float, ceiling_s: float) -> float:
    """Seconds between two updates to ``recipients`` connections."""
    return min(ceiling_s, max(floor_s, recipients / sends_per_s))
