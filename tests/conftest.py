"""Settings for every test module."""

from __future__ import annotations

from hypothesis import settings

# Property tests check arithmetic, not speed: Hypothesis's 200 ms deadline per example
# failed a rule-threshold property once on a machine busy with browser suites.
settings.register_profile("meetingd", deadline=None)
settings.load_profile("meetingd")
