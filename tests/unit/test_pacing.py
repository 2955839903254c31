"""Room-wide updates stretch in a huge room and stay every tick in a cell."""

from __future__ import annotations

from meeting.pacing import stretched_interval


def test_a_cell_gets_every_tick_and_a_huge_room_about_the_send_budget() -> None:
    assert stretched_interval(0, 1000, 0.25, 1.0) == 0.25
    assert stretched_interval(200, 1000, 0.25, 1.0) == 0.25  # a cell of 200: every tick
    assert stretched_interval(500, 1000, 0.25, 1.0) == 0.5  # 1,000 sends a second
    assert stretched_interval(5000, 1000, 0.25, 1.0) == 1.0  # never slower than the ceiling
