"""The per-subscriber estimate (media/bwe.py) on synthetic links fed through real feedback packets."""

from __future__ import annotations

import random

from media.bwe import (
    INITIAL_BPS,
    LOW_AFTER,
    RECOVER_MIN,
    DownlinkEstimator,
    LowStreamChoice,
    SendSideBwe,
)
from media.twcc import ArrivalRecorder, parse_feedback

PACKET = 1200


def run_link(
    bwe: SendSideBwe,
    *,
    send_bps: float,
    capacity_bps: float,
    seconds: float,
    loss: float = 0.0,
    start_us: int = 0,
    seed: int = 1,
    max_queue_us: int = 400_000,
    stall_us: int = 0,
) -> int:
    """Send ``send_bps`` through a link of ``capacity_bps`` (bottleneck queue, tail drop, random
    loss), with 40 ms one-way delay; the receiver answers every 50 ms through real feedback
    packets. Returns the time reached (µs)."""
    rng = random.Random(seed)
    recorder = ArrivalRecorder()
    interval = int(PACKET * 8 / send_bps * 1_000_000)
    now = start_us
    end = start_us + int(seconds * 1_000_000)
    link_free = now
    in_flight: list[tuple[int, int]] = []  # arrival, seq
    next_feedback = now + 50_000
    while now < end:
        seq = bwe.next_seq()
        bwe.sent(seq, now, PACKET)
        queue_wait = max(0, link_free - now)
        if queue_wait <= max_queue_us and rng.random() >= loss:
            depart = max(now, link_free) + int(PACKET * 8 / capacity_bps * 1_000_000)
            link_free = depart
            in_flight.append((depart + 40_000, seq))
        elif queue_wait <= max_queue_us:
            link_free = max(now, link_free) + int(PACKET * 8 / capacity_bps * 1_000_000)
        now += interval
        while now >= next_feedback:
            arrived = [(a, s) for a, s in in_flight if a <= next_feedback]
            in_flight = [(a, s) for a, s in in_flight if a > next_feedback]
            # a busy receiver stamps a batch late (up to ``stall_us``), all at once
            late = rng.randint(0, stall_us) if stall_us and rng.random() < 0.3 else 0
            for a, s in arrived:
                recorder.record(s, max(a, next_feedback - 50_000 + late) + 7_000_000)
            for packet in recorder.feedback():
                # feedback takes 40 ms back
                bwe.on_feedback(next_feedback + 40_000, parse_feedback(packet).arrivals)
            next_feedback += 50_000
    return now


def test_no_estimate_before_a_second_of_feedback() -> None:
    bwe = SendSideBwe()
    assert bwe.estimate_bps is None
    run_link(bwe, send_bps=500_000, capacity_bps=5_000_000, seconds=0.5)
    assert bwe.estimate_bps is None
    run_link(bwe, send_bps=500_000, capacity_bps=5_000_000, seconds=1.0, start_us=500_000)
    assert bwe.estimate_bps is not None


def test_a_capped_link_brings_the_estimate_under_the_cap() -> None:
    bwe = SendSideBwe()
    run_link(bwe, send_bps=800_000, capacity_bps=300_000, seconds=8)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate < 330_000, estimate
    assert estimate > 100_000, estimate


def test_a_clean_link_lets_the_estimate_grow() -> None:
    bwe = SendSideBwe()
    run_link(bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=10)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate > INITIAL_BPS * 1.3, estimate


def test_three_percent_random_loss_holds_the_estimate() -> None:
    bwe = SendSideBwe()
    run_link(bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=10, loss=0.03)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate >= INITIAL_BPS * 0.95, estimate
    assert 0.01 < bwe.estimator.loss < 0.08


def test_heavy_loss_decreases_the_estimate() -> None:
    bwe = SendSideBwe()
    run_link(bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=6, loss=0.25)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate < 600_000, estimate  # below what is sent
    assert estimate > 300_000, estimate  # not below what gets through


def test_sequence_numbers_wrap_and_stale_reports_are_not_counted() -> None:
    bwe = SendSideBwe()
    for _ in range(65530):
        bwe.next_seq()
    seqs = [bwe.next_seq() for _ in range(10)]
    assert seqs[:6] == [65530, 65531, 65532, 65533, 65534, 65535] and seqs[6] == 0
    for k, seq in enumerate(seqs):
        bwe.sent(seq, k * 1000, PACKET)
    bwe.on_feedback(50_000, [(s, 10_000 + k * 1000) for k, s in enumerate(seqs)])
    assert bwe.unknown == 0
    bwe.on_feedback(60_000, [(seqs[0], 10_000), (1234, 11_000)])  # reported twice, never sent
    assert bwe.unknown == 2


def test_estimator_is_none_without_results() -> None:
    estimator = DownlinkEstimator()
    estimator.on_results(0, [])
    assert estimator.estimate_bps is None


def test_low_stream_choice_goes_low_after_a_while_and_up_with_hysteresis() -> None:
    choice = LowStreamChoice()
    assert not choice.update(0.0, 200_000, 600_000)
    assert not choice.low
    assert choice.update(LOW_AFTER + 0.1, 200_000, 600_000) and choice.low
    t = LOW_AFTER + 1
    assert not choice.update(t, 650_000, 600_000)  # above, but not by the headroom
    assert not choice.update(t + 1, 800_000, 600_000)
    assert not choice.update(t + RECOVER_MIN, 800_000, 600_000)
    assert choice.update(t + 1 + RECOVER_MIN, 800_000, 600_000) and not choice.low
    # turning low again soon after: the next wait is doubled
    t2 = t + 2 + RECOVER_MIN
    choice.update(t2, 100_000, 600_000)
    assert choice.update(t2 + LOW_AFTER, 100_000, 600_000) and choice.low
    assert choice.recover_after == 2 * RECOVER_MIN
    assert not choice.update(t2 + 10, None, 600_000)  # no estimate: nothing learnt


def test_a_busy_receiver_stamping_batches_late_is_not_read_as_a_queue() -> None:
    bwe = SendSideBwe()
    run_link(bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=10, stall_us=60_000, seed=4)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate >= INITIAL_BPS, estimate


def test_holding_at_a_few_percent_loss_never_stays_under_what_got_through() -> None:
    bwe = SendSideBwe()
    t = run_link(bwe, send_bps=150_000, capacity_bps=5_000_000, seconds=3, loss=0.03)
    bwe.estimator._estimate = 50_000.0  # as after decreases while the relay sent more
    run_link(bwe, send_bps=150_000, capacity_bps=5_000_000, seconds=3, loss=0.03, start_us=t, seed=2)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate >= 120_000, estimate


def test_steady_random_loss_is_the_links_own_and_the_estimate_climbs_back_above_what_is_sent() -> None:
    bwe = SendSideBwe()
    t = run_link(bwe, send_bps=150_000, capacity_bps=5_000_000, seconds=3, loss=0.03)
    bwe.estimator._estimate = 100_000.0  # after a dip (a transient queue)
    run_link(bwe, send_bps=150_000, capacity_bps=5_000_000, seconds=25, loss=0.03, start_us=t, seed=3)
    estimate = bwe.estimate_bps
    assert estimate is not None and estimate > 300_000, estimate  # twice what is sent: it can go up
    assert 0.015 < bwe.estimator.baseline_loss < 0.045, bwe.estimator.baseline_loss


def test_the_link_loss_read_for_a_weak_link_is_the_raw_share_lost_while_feedback_is_fresh() -> None:
    """Half the packets lost: the feedback says ~50 % every time it is read (a receiver report,
    net of retransmissions, read 0 % every other second on such a link); once the feedback
    stops coming, the loss is no longer a reading of the link."""
    bwe = SendSideBwe()
    assert bwe.estimator.fresh_loss(0, 2_000_000) is None  # no feedback yet
    now = 0
    readings = []
    for second in range(6):
        now = run_link(
            bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=1, loss=0.5, start_us=now, seed=second
        )
        readings.append(bwe.estimator.fresh_loss(now, 2_000_000))
    # ~60 packets a second: a second's share is noisy, but always far above the weak-link 20 %
    assert all(r is not None and 0.3 < r < 0.7 for r in readings), readings
    assert 0.42 < sum(r for r in readings if r is not None) / len(readings) < 0.58, readings
    assert bwe.estimator.fresh_loss(now + 3_000_000, 2_000_000) is None


def test_a_link_carrying_a_few_packets_a_second_makes_no_loss_reading() -> None:
    """Sound only with Opus DTX: ~5 packets a second, so one lost would read 20 % (the weak-link
    threshold) and keep video off; too few packets make no reading, enough make one again."""
    bwe = SendSideBwe()
    sparse = PACKET * 8 * 5  # 5 packets a second
    now = run_link(bwe, send_bps=sparse, capacity_bps=5_000_000, seconds=3, loss=0.2, seed=3)
    assert bwe.estimator.fresh_loss(now, 2_000_000) is None
    now = run_link(bwe, send_bps=600_000, capacity_bps=5_000_000, seconds=2, loss=0.2, start_us=now, seed=4)
    reading = bwe.estimator.fresh_loss(now, 2_000_000)
    assert reading is not None and 0.05 < reading < 0.4, reading
