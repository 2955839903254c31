"""Rate limits: a sliding window for sign-in attempts, a token bucket for events."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from meeting.errors import RateLimited


class SlidingWindow:
    """At most ``limit`` hits per key within ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}

    def _prune(self, key: str) -> deque[float]:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return self._hits.setdefault(key, deque())
        return hits

    def check(self, key: str, what: str) -> None:
        hits = self._prune(key)
        if len(hits) >= self.limit:
            retry = hits[0] + self.window - self._clock()
            raise RateLimited(f"too many {what}; try again in {int(retry) + 1} s", retry_after=retry)

    def hit(self, key: str) -> None:
        self._prune(key).append(self._clock())

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class TokenBucket:
    """``rate`` events per second with a ``burst``; one bucket per connection."""

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate", "strikes")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._last = clock()
        self.strikes = 0  # refused events since the last accepted one

    def take(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1:
            self.strikes += 1
            # at least 1 ms: a bucket a hair short of a token must not say "retry in 0 s"
            raise RateLimited(
                "too many events; slow down", retry_after=max(0.001, (1 - self._tokens) / self.rate)
            )
        self._tokens -= 1
        self.strikes = 0
