"""A send-side bandwidth estimate for one subscriber, from its transport feedback.

The shape of Google Congestion Control (draft-ietf-rmcat-gcc-02), kept small:

* **Delay gradient.** Packets are grouped by send time (5 ms bursts); for each group the
  change in one-way delay against the previous group is accumulated, smoothed, and the
  trend over the last groups is the slope of a least-squares line (libwebrtc's
  ``TrendlineEstimator``). A trend above an adaptive threshold is *overuse* (a queue is
  building), below minus the threshold *underuse*.
* **Loss.** The fraction of packets the feedback says never arrived, over the last
  second, less the link's own loss (``BASELINE_S``: what it loses while no queue builds):
  above 10 % the estimate decreases (``estimate * (1 - loss / 2)``, but not below
  0.85 times what got through), between 2 and
  10 % it holds (but not under what got through), below 2 % it may increase.
* **Rate control.** Overuse: down to 0.85 times what the subscriber received in the last
  second. Normal and little loss: up 8 % a second. The relay does not pace or probe, so
  the estimate may rise above what is sent now; the first queue or loss brings it back.

Pure code: no aiortc, no I/O; times are µs on any monotonic clock. :class:`SendSideBwe`
is what :mod:`media.aiortc_hooks` keeps per subscribe connection: the transport-wide
sequence counter, the send times, and the estimator.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from media.profiles import Latch

# Send history kept per connection (a power of two; ~4 s at 1 Mbit/s of 1200-byte packets).
HISTORY = 4096
BURST_US = 5_000  # packets sent within this of a group's first belong to it
TREND_WINDOW = 20  # groups in the trend line
SMOOTHING = 0.9
THRESHOLD_GAIN = 4.0
INITIAL_THRESHOLD_MS = 12.5
THRESHOLD_UP, THRESHOLD_DOWN = 0.0087, 0.039
MIN_THRESHOLD_MS, MAX_THRESHOLD_MS = 6.0, 600.0
OVERUSE_GROUPS = 2  # in a row before it counts
# ...and only while the delay built up is at least this far above its lowest in the last
# QUEUE_WINDOW_US: a steep but shallow trend is a busy event loop (ours or the receiver's)
# stamping packets late, not a queue on the link.
QUEUE_MIN_MS = 20.0
QUEUE_WINDOW_US = 5_000_000

LOSS_DECREASE, LOSS_INCREASE = 0.10, 0.02
# The link's own loss: what it loses while no queue builds, averaged over ~BASELINE_S. Only the
# loss above it counts against the rate: loss that does not grow with the rate (a lossy radio
# link) is not congestion, and counting it held the estimate for ever at 3 % random loss.
BASELINE_S = 10.0
LOSS_WINDOW_US = 1_000_000
# Fewer packets than this in the loss window make no reading of the link's loss: a link
# carrying only sound with Opus DTX sends ~5 a second, and one lost would read 20 %.
MIN_LOSS_PACKETS = 20
LOSS_DECREASE_INTERVAL_US = 300_000
ACKED_WINDOW_US = 1_000_000
ACKED_MIN_SPAN_US = 500_000  # a burst after a stall does not read as a fast link
OVERUSE_BACKOFF = 0.85
INCREASE_PER_S = 0.08
DECREASE_INTERVAL_US = 300_000  # at most one delay-based decrease per this (a round trip or so)

INITIAL_BPS = 1_000_000
MIN_BPS = 10_000
MAX_BPS = 20_000_000
WARMUP_US = 1_000_000  # feedback over this long before there is an estimate


class DelayTrend:
    """Overuse detection from (send, arrival) times: a trend line over accumulated delay."""

    def __init__(self) -> None:
        self._group: tuple[int, int, int] | None = None  # first send, last send, last arrival
        self._previous: tuple[int, int] | None = None  # last send, last arrival of the previous group
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._first_arrival: int | None = None
        self._points: deque[tuple[float, float]] = deque(maxlen=TREND_WINDOW)
        self._deltas = 0
        self.threshold = INITIAL_THRESHOLD_MS
        self._last_update: int | None = None
        self.trend = 0.0  # the last modified trend (ms)
        self._over = 0
        self._recent: deque[tuple[int, float]] = deque()  # arrival, smoothed delay (ms)
        self.queue_ms = 0.0  # the smoothed delay above its recent lowest
        self.state = "normal"  # "normal", "overuse", "underuse"

    def add(self, send_us: int, arrival_us: int) -> None:
        group = self._group
        if group is None:
            self._group = (send_us, send_us, arrival_us)
            return
        if send_us - group[0] <= BURST_US and send_us >= group[0]:
            self._group = (group[0], max(group[1], send_us), max(group[2], arrival_us))
            return
        if send_us < group[0]:
            return  # reordered behind its group: ignore
        self._close_group(group)
        self._group = (send_us, send_us, arrival_us)

    def _close_group(self, group: tuple[int, int, int]) -> None:
        _first, send, arrival = group
        previous = self._previous
        self._previous = (send, arrival)
        if previous is None:
            return
        delta_ms = ((arrival - previous[1]) - (send - previous[0])) / 1000
        self._deltas += 1
        self._accumulated += delta_ms
        self._smoothed = SMOOTHING * self._smoothed + (1 - SMOOTHING) * self._accumulated
        if self._first_arrival is None:
            self._first_arrival = arrival
        self._points.append(((arrival - self._first_arrival) / 1000, self._smoothed))
        recent = self._recent
        while recent and recent[-1][1] >= self._smoothed:
            recent.pop()  # a monotonic queue: its head is the lowest in the window
        recent.append((arrival, self._smoothed))
        while arrival - recent[0][0] > QUEUE_WINDOW_US:
            recent.popleft()
        self.queue_ms = self._smoothed - recent[0][1]
        if len(self._points) < TREND_WINDOW:
            return
        slope = _slope(self._points)
        last_trend, self.trend = self.trend, min(self._deltas, 60) * slope * THRESHOLD_GAIN
        self._adapt_threshold(arrival)
        if self.trend > self.threshold and self.queue_ms >= QUEUE_MIN_MS:
            self._over += 1
            if self._over >= OVERUSE_GROUPS and self.trend >= last_trend:
                self.state = "overuse"
        else:
            self._over = 0
            self.state = "underuse" if self.trend < -self.threshold else "normal"

    def _adapt_threshold(self, now_us: int) -> None:
        if self._last_update is None:
            self._last_update = now_us
        trend = abs(self.trend)
        if trend > self.threshold + 15:  # a spike: do not adapt to it
            self._last_update = now_us
            return
        k = THRESHOLD_DOWN if trend < self.threshold else THRESHOLD_UP
        dt_ms = min(100.0, (now_us - self._last_update) / 1000)
        self.threshold += k * (trend - self.threshold) * dt_ms
        self.threshold = min(MAX_THRESHOLD_MS, max(MIN_THRESHOLD_MS, self.threshold))
        self._last_update = now_us


def _slope(points: Iterable[tuple[float, float]]) -> float:
    pts = list(points)
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    num = sum((x - mx) * (y - my) for x, y in pts)
    den = sum((x - mx) ** 2 for x, _ in pts)
    return 0.0 if den == 0 else num / den


class DownlinkEstimator:
    """The estimate (bit/s) from packet results: (send µs, arrival µs or None if lost, bytes)."""

    def __init__(self, initial_bps: int = INITIAL_BPS) -> None:
        self._initial = initial_bps
        self.trend = DelayTrend()
        self._estimate = float(initial_bps)
        self._started: int | None = None
        self._last_at: int | None = None
        self._acked: deque[tuple[int, int]] = deque()  # arrival, bytes
        self._acked_bytes = 0
        self._losses: deque[tuple[int, int, int]] = deque()  # at, lost, total
        self._last_decrease: int | None = None
        self._last_loss_decrease: int | None = None
        self.loss = 0.0
        self.baseline_loss = 0.0  # the link's own loss (see BASELINE_S)
        self._loss_packets = 0  # packets the feedback in the loss window told of
        self.acked_bps: int | None = None

    def fresh_loss(self, now_us: int, max_age_us: int) -> float | None:
        """What the link lost of what was sent over it (all packets, retransmissions too, as
        its transport feedback says, over ``LOSS_WINDOW_US``); None when no feedback came in
        the last ``max_age_us``, or it told of fewer than ``MIN_LOSS_PACKETS`` packets."""
        if self._last_at is None or now_us - self._last_at > max_age_us:
            return None
        return self.loss if self._loss_packets >= MIN_LOSS_PACKETS else None

    @property
    def estimate_bps(self) -> int | None:
        """None until feedback has come for a second; then the estimate."""
        if self._started is None or self._last_at is None or self._last_at - self._started < WARMUP_US:
            return None
        return int(self._estimate)

    def on_results(self, now_us: int, results: list[tuple[int, int | None, int]]) -> None:
        if not results:
            return
        if self._started is None:
            self._started = now_us
        lost = 0
        newest_arrival: int | None = None
        for send_us, arrival_us, size in results:
            if arrival_us is None:
                lost += 1
                continue
            self.trend.add(send_us, arrival_us)
            self._acked.append((arrival_us, size))
            self._acked_bytes += size
            if newest_arrival is None or arrival_us > newest_arrival:
                newest_arrival = arrival_us
        if newest_arrival is not None:
            while self._acked and newest_arrival - self._acked[0][0] > ACKED_WINDOW_US:
                self._acked_bytes -= self._acked.popleft()[1]
            span = (
                max(newest_arrival - self._acked[0][0], ACKED_MIN_SPAN_US) if self._acked else ACKED_WINDOW_US
            )
            self.acked_bps = int(self._acked_bytes * 8 * 1_000_000 / span)
        self._losses.append((now_us, lost, len(results)))
        while self._losses and now_us - self._losses[0][0] > LOSS_WINDOW_US:
            self._losses.popleft()
        total = self._loss_packets = sum(t for _, _, t in self._losses)
        self.loss = sum(lo for _, lo, _ in self._losses) / total if total else 0.0
        self._update(now_us)

    def _update(self, now_us: int) -> None:
        dt = 0.0 if self._last_at is None else max(0.0, (now_us - self._last_at) / 1_000_000)
        self._last_at = now_us
        if self.estimate_bps is None and self.acked_bps is not None:
            self._estimate = max(float(self._initial), 1.5 * self.acked_bps)
        state = self.trend.state
        if state == "normal" and self.trend.queue_ms < QUEUE_MIN_MS:
            weight = min(1.0, dt / BASELINE_S)
            self.baseline_loss += weight * (self.loss - self.baseline_loss)
        excess = max(0.0, self.loss - self.baseline_loss)
        if state == "overuse":
            if self._last_decrease is None or now_us - self._last_decrease >= DECREASE_INTERVAL_US:
                base = self.acked_bps if self.acked_bps is not None else self._estimate
                self._estimate = min(self._estimate, OVERUSE_BACKOFF * base)
                self._last_decrease = now_us
        elif excess > LOSS_DECREASE:
            if (
                self._last_loss_decrease is None
                or now_us - self._last_loss_decrease >= LOSS_DECREASE_INTERVAL_US
            ):
                # not below what got through: the relay does not slow down when told, so
                # the loss would otherwise go on and take the estimate to nothing
                floor = OVERUSE_BACKOFF * self.acked_bps if self.acked_bps is not None else 0.0
                self._estimate = max(min(self._estimate, floor), self._estimate * (1 - excess / 2))
                self._last_loss_decrease = now_us
        elif excess < LOSS_INCREASE and state == "normal":
            self._estimate *= math.pow(1 + INCREASE_PER_S, dt)
        if state != "overuse" and excess <= LOSS_DECREASE and self.acked_bps is not None:
            # holding (2-10 % lost, or the queue draining): not under what demonstrably got
            # through. After a decrease measured on a short burst, or after the relay sent
            # less (a lower rendition), it would otherwise stay under it with nothing at this
            # loss to bring it back up.
            self._estimate = max(self._estimate, float(self.acked_bps))
        self._estimate = min(float(MAX_BPS), max(float(MIN_BPS), self._estimate))


class SendSideBwe:
    """One subscribe connection's transport-wide numbering, send times and estimate.

    :meth:`next_seq` then :meth:`sent` on every packet (one counter step and one slot
    write), :meth:`on_feedback` when a transport feedback packet has been parsed.
    """

    __slots__ = ("_history", "_seq", "estimator", "feedback_packets", "unknown")

    def __init__(self, initial_bps: int = INITIAL_BPS) -> None:
        self._seq = 0
        self._history: list[tuple[int, int, int] | None] = [None] * HISTORY  # seq, send µs, bytes
        self.estimator = DownlinkEstimator(initial_bps)
        self.feedback_packets = 0
        self.unknown = 0  # reported sequence numbers we have no send time for

    def next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        return seq

    def sent(self, seq: int, now_us: int, size: int) -> None:
        self._history[seq & (HISTORY - 1)] = (seq, now_us, size)

    def on_feedback(self, now_us: int, arrivals: list[tuple[int, int | None]]) -> None:
        """Arrivals (16-bit seq, µs or None) of one feedback packet."""
        self.feedback_packets += 1
        history = self._history
        results: list[tuple[int, int | None, int]] = []
        for seq, arrival in arrivals:
            slot = seq & (HISTORY - 1)
            entry = history[slot]
            if entry is None or entry[0] != seq:
                self.unknown += 1
                continue
            history[slot] = None  # each packet counts once
            results.append((entry[1], arrival, entry[2]))
        self.estimator.on_results(now_us, results)

    @property
    def estimate_bps(self) -> int | None:
        return self.estimator.estimate_bps


# Whether a subscriber gets the shared low rendition of a publisher without simulcast
# (LowStreamChoice): low once its estimate stayed under what the full stream needs for
# LOW_AFTER seconds; full again once it stayed above FULL_HEADROOM times that for the
# recovery wait (RECOVER_MIN s, doubled up to RECOVER_MAX each time it turns low again
# within FLAP_MEMORY s of going back up: the estimate rises by itself while nothing more
# is sent, so going up is how the link is probed).
LOW_AFTER = 2.0
FULL_HEADROOM = 1.2
RECOVER_MIN = 10.0
RECOVER_MAX = 80.0
FLAP_MEMORY = 60.0


class LowStreamChoice:
    """Decides, from one subscriber's estimate and one stream's rate, low rendition or full."""

    def __init__(self) -> None:
        self._latch = Latch(LOW_AFTER, RECOVER_MIN, RECOVER_MAX, FLAP_MEMORY)

    @property
    def low(self) -> bool:
        return self._latch.on

    @property
    def recover_after(self) -> float:
        return self._latch.recover_after

    def update(self, now: float, estimate_bps: int | None, needed_bps: int | None) -> bool:
        """Feed one reading; True when ``low`` changed. No estimate or rate: nothing learnt."""
        if estimate_bps is None or needed_bps is None or needed_bps <= 0:
            return False
        return self._latch.update(
            now, bad=estimate_bps < needed_bps, good=estimate_bps >= FULL_HEADROOM * needed_bps
        )


# Simulcast layer choice (choose_layers): a subscription moves up a layer only when the
# estimate carries it with LAYER_HEADROOM to spare, and not within LAYER_UP_HOLD seconds of
# having had to move down (the estimate grows while less is sent: going up probes the link).
LAYER_HEADROOM = 1.2
LAYER_UP_HOLD = 8.0
# A move up that the link takes back down within LAYER_UP_FAILED seconds failed: the next
# hold is twice the last (up to LAYER_UP_HOLD_MAX). Behind a cap just above the lower layer
# the estimate recovers to the higher one's rate while less is sent, and collapses again once
# it is: without the back-off the subscriber swaps layers (a keyframe each way) every 9 s.
LAYER_UP_FAILED = 10.0
LAYER_UP_HOLD_MAX = 64.0


def backed_off(
    hold: float, previous_at: float | None, now: float, *, within: float, base: float, cap: float
) -> float:
    """A hold that follows an event at ``now``: twice the last ``hold`` (up to ``cap``) when
    the event it answers (at ``previous_at``) came less than ``within`` before, else ``base``."""
    if previous_at is not None and now - previous_at < within:
        return min(cap, hold * 2)
    return base


def next_up_hold(hold: float, went_up_at: float | None, now: float) -> float:
    """The hold after the link took a subscription down at ``now``: doubled if its last move
    up (at ``went_up_at``) failed, else back to ``LAYER_UP_HOLD``."""
    return backed_off(
        hold, went_up_at, now, within=LAYER_UP_FAILED, base=LAYER_UP_HOLD, cap=LAYER_UP_HOLD_MAX
    )


@dataclass(slots=True)
class LayerDemand:
    """One video subscription to a simulcast publisher, as the layer choice sees it."""

    rates: tuple[int, ...]  # bit/s each layer arrives at, best first (0: not sent now)
    cap: int = 0  # the best layer the receive profile allows (0: the top one)
    priority: bool = False  # the main-room display or the current speaker: served first
    current: int | None = None  # the layer it gets now
    down_at: float | None = None  # when it last had to move down (monotonic)
    hold: float = LAYER_UP_HOLD  # how long after that it may not move up (``next_up_hold``)


def best_allowed(demand: LayerDemand) -> int:
    """The best layer ``demand``'s profile allows of those sent (what it gets on a good link)."""
    sent = [i for i, rate in enumerate(demand.rates) if rate > 0] or list(range(len(demand.rates)))
    return next((i for i in sent if i >= demand.cap), sent[-1])


def choose_layers(
    now: float, estimate_bps: int | None, reserved_bps: int, demands: list[LayerDemand]
) -> list[int]:
    """The layer each subscription gets (index into its ``rates``, 0 = best).

    Without an estimate, the best layer each profile allows. With one, every subscription is
    first counted at its lowest layer sent; then, priority ones first, each takes the best
    layer (no better than its ``cap``) that what is left of the estimate (less
    ``reserved_bps``, its audio) carries: at once for the layer it has or a lower one, with
    ``LAYER_HEADROOM`` and outside its hold (``LAYER_UP_HOLD``, doubled by each failed move
    up) for a higher one. A layer not sent (rate
    0) is never chosen while another is."""
    chosen: list[int] = []
    sent_layers: list[list[int]] = []
    for d in demands:
        sent = [i for i, rate in enumerate(d.rates) if rate > 0] or list(range(len(d.rates)))
        sent_layers.append(sent)
        allowed = [i for i in sent if i >= d.cap] or [sent[-1]]
        chosen.append(allowed[0] if estimate_bps is None else allowed[-1])
    if estimate_bps is None:
        return chosen
    left = estimate_bps - reserved_bps - sum(d.rates[chosen[k]] for k, d in enumerate(demands))
    order = sorted(range(len(demands)), key=lambda k: not demands[k].priority)
    for k in order:
        d = demands[k]
        base = d.rates[chosen[k]]
        for i in (i for i in sent_layers[k] if i >= d.cap):
            if i >= chosen[k]:
                break  # nothing better fits
            up = d.current is None or i < d.current
            if up and d.current is not None and d.down_at is not None and now - d.down_at < d.hold:
                continue
            need = d.rates[i] * (LAYER_HEADROOM if up else 1.0) - base
            if need <= left:
                left -= d.rates[i] - base
                chosen[k] = i
                break
    return chosen
