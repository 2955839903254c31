"""Receive profiles (which videos a subscriber gets) and active-speaker ranking.

Audio is never dropped by a profile; only video forwarding is switched. A
switch takes effect at once, with no renegotiation: the subscriber's video
transceivers stay, their forwarding stops or resumes at a keyframe.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from meeting.errors import InvalidInput

Mode = Literal["full", "last_n", "main_room_only", "audio_only", "low_video"]
MODES: tuple[Mode, ...] = ("full", "last_n", "main_room_only", "audio_only", "low_video")
MAX_LAST_N = 64

# ssrc-audio-level is -dBov (0 = loudest, 127 = silence); at or below this = speaking.
SPEAKING_LEVEL = 50
_LAST_N = re.compile(r"last_n[(:]\s*(\d{1,3})\s*\)?")


@dataclass(frozen=True, slots=True)
class ReceiveProfile:
    mode: Mode = "full"
    n: int = 0

    @classmethod
    def parse(cls, value: Any) -> ReceiveProfile:
        """From ``"full"``, ``"low_video"``, ``"audio_only"``, ``"main_room_only"``, ``"last_n(3)"``,
        ``"last_n:3"`` or ``{"mode": "last_n", "n": 3}``."""
        if isinstance(value, ReceiveProfile):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"mode", "n"}
            if unknown:
                raise InvalidInput(f"profile: unknown field {sorted(unknown)[0]!r}")
            mode, n = value.get("mode"), value.get("n", 0)
        elif isinstance(value, str):
            match = _LAST_N.fullmatch(value.strip())
            mode, n = ("last_n", int(match.group(1))) if match else (value.strip(), 0)
        else:
            raise InvalidInput("profile: expected a string or an object")
        if mode not in MODES:
            raise InvalidInput(f"profile: unknown mode {mode!r}, expected one of {MODES}")
        if not isinstance(n, int) or isinstance(n, bool):
            raise InvalidInput("profile: n must be an integer")
        if mode == "last_n":
            if not 1 <= n <= MAX_LAST_N:
                raise InvalidInput(f"profile: last_n needs 1 <= n <= {MAX_LAST_N}")
        elif n:
            raise InvalidInput(f"profile: n is only valid with last_n, not {mode}")
        return cls(mode=mode, n=n)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "n": self.n} if self.mode == "last_n" else {"mode": self.mode}

    def wants_video(self, publisher_id: str, *, main_room: set[str], recent_speakers: list[str]) -> bool:
        if self.mode in ("full", "low_video"):  # low_video: every video, as a low rendition
            return True
        if self.mode == "audio_only":
            return False
        if self.mode == "main_room_only":
            return publisher_id in main_room
        return publisher_id in recent_speakers[: self.n]


class SpeakerRanking:
    """Publishers ordered by most recent speech (from RTP audio levels).

    Publishers that never spoke follow, in the order they started publishing.
    ``on_change`` fires when the order changes (a new most recent speaker).
    """

    def __init__(
        self,
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._order: list[str] = []
        self._on_change = on_change
        self._clock = clock
        self.last_spoke: dict[str, float] = {}

    @property
    def order(self) -> list[str]:
        return list(self._order)

    def add(self, publisher_id: str) -> None:
        if publisher_id not in self._order:
            self._order.append(publisher_id)

    def remove(self, publisher_id: str) -> None:
        if publisher_id in self._order:
            self._order.remove(publisher_id)
            self.last_spoke.pop(publisher_id, None)
            self._on_change()

    def on_audio_level(self, publisher_id: str, level: int) -> None:
        if level > SPEAKING_LEVEL:
            return
        self.last_spoke[publisher_id] = self._clock()
        if self._order and self._order[0] == publisher_id:
            return
        if publisher_id in self._order:
            self._order.remove(publisher_id)
        self._order.insert(0, publisher_id)
        self._on_change()


# The automatic weak-link profile (WeakLink): a subscriber whose link (its transport feedback,
# else its receiver reports) loses
# WEAK_LOSS or more of what it is sent for WEAK_AFTER seconds gets sound only; it gets video
# again after its reports stayed under RECOVER_LOSS for the recovery wait: RECOVER_MIN seconds,
# doubled (up to RECOVER_MAX) each time the link turns weak again within FLAP_MEMORY seconds of
# recovering.
# It also turns sound only when its send-side estimate (media/bwe.py, from its transport
# feedback) stays under VIDEO_MIN_BPS for WEAK_AFTER seconds, and needs RECOVER_BPS to come back.
WEAK_LOSS = 0.20
VIDEO_MIN_BPS = 60_000
RECOVER_BPS = 100_000
WEAK_AFTER = 4.0
RECOVER_LOSS = 0.05
RECOVER_MIN = 10.0
RECOVER_MAX = 80.0
FLAP_MEMORY = 60.0


class Latch:
    """A decision with hysteresis (pure logic, times in seconds): it turns on once ``bad``
    readings came for ``enter_after`` in a row, and off once ``good`` ones came for
    ``recover_after``, which starts at ``recover_min`` and doubles (up to ``recover_max``) each
    time it turns on again within ``flap_memory`` of turning off."""

    def __init__(
        self, enter_after: float, recover_min: float, recover_max: float, flap_memory: float
    ) -> None:
        self.on = False
        self._enter_after = enter_after
        self._recover_min = recover_min
        self._recover_max = recover_max
        self._flap_memory = flap_memory
        self.recover_after = recover_min
        self._since: float | None = None  # since when the readings point the other way
        self._off_at: float | None = None

    def update(self, now: float, *, bad: bool, good: bool) -> bool:
        """Feed one reading; True when ``on`` changed."""
        pointing_away = good if self.on else bad  # the readings say the decision should change
        if not pointing_away:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if now - self._since < (self.recover_after if self.on else self._enter_after):
            return False
        self._since = None
        if self.on:
            self.on, self._off_at = False, now
            return True
        recent = self._off_at is not None and now - self._off_at < self._flap_memory
        self.recover_after = min(self._recover_max, 2 * self.recover_after) if recent else self._recover_min
        self.on = True
        return True


class WeakLink:
    """Decides, from one subscriber's feedback, when its link cannot carry video (pure logic).

    ``update`` is called about once a second with the worst fresh fraction lost of the
    subscriber's own link (None: no fresh report). ``weak`` is the decision; ``reason`` is
    ``"loss"`` or ``"bandwidth"`` (the send-side estimate, from transport feedback) while weak.
    REMB is not used: a receive-side estimate follows the incoming rate, so a still picture
    sent at 30 kbit/s (or a stream just starting) reads as a weak link when it is not; the
    send-side estimate does not fall because less is sent, only on queueing and loss.
    ``auto`` False is the member's override: video stays on whatever the link does
    (``weak`` is still reported, so the member knows).
    """

    def __init__(self) -> None:
        self.auto = True
        self.reason: str | None = None
        self._latch = Latch(WEAK_AFTER, RECOVER_MIN, RECOVER_MAX, FLAP_MEMORY)

    @property
    def weak(self) -> bool:
        return self._latch.on

    @property
    def recover_after(self) -> float:
        """How long the link must stay good before video comes back (s)."""
        return self._latch.recover_after

    @property
    def sound_only(self) -> bool:
        """Video is held back now (weak, and the member did not override)."""
        return self.weak and self.auto

    def update(self, now: float, loss: float | None, estimate_bps: int | None = None) -> bool:
        """Feed one reading: the worst fresh fraction lost and the subscriber's send-side
        estimate (None: no fresh report / no estimate, nothing learnt); True when ``weak`` changed."""
        if loss is None and estimate_bps is None:
            return False
        lossy = loss is not None and loss >= WEAK_LOSS
        narrow = estimate_bps is not None and estimate_bps < VIDEO_MIN_BPS
        good = not (
            (loss is not None and loss >= RECOVER_LOSS)
            or (estimate_bps is not None and estimate_bps < RECOVER_BPS)
        )
        if not self._latch.update(now, bad=lossy or narrow, good=good):
            return False
        self.reason = ("loss" if lossy else "bandwidth") if self.weak else None
        return True
