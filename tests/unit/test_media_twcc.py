"""Transport feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): format and recorder."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.twcc import (
    DELTA_US,
    MAX_STATUSES,
    ArrivalRecorder,
    build_feedback,
    parse_feedback,
    split_compound,
)


def test_feedback_round_trips_small_deltas_and_losses() -> None:
    entries: list[int | None] = [256 * 10 + 3, None, 256 * 10 + 7, 256 * 10 + 7, None, None, 256 * 10 + 300]
    packet = build_feedback(1, 2, 65530, 256 * 10, 9, entries)
    assert len(packet) % 4 == 0
    fb = parse_feedback(packet)
    assert (fb.sender_ssrc, fb.media_ssrc, fb.base_seq, fb.feedback_count) == (1, 2, 65530, 9)
    assert [s for s, _ in fb.arrivals] == [65530, 65531, 65532, 65533, 65534, 65535, 0]  # wraps
    assert [a for _, a in fb.arrivals] == [None if e is None else e * DELTA_US for e in entries]


def test_header_says_rtpfb_fmt_15_with_its_length() -> None:
    packet = build_feedback(7, 8, 100, 0, 0, [5])
    first, pt, length = struct.unpack_from("!BBH", packet)
    assert first & 0xC0 == 0x80 and first & 0x1F == 15 and pt == 205
    assert (length + 1) * 4 == len(packet)


def test_large_and_negative_deltas_use_two_bytes() -> None:
    entries: list[int | None] = [256, 256 + 5000, 256 + 4000, 256 + 4000 + 0x7FFF]
    fb = parse_feedback(build_feedback(0, 0, 0, 256, 0, entries))
    assert [a for _, a in fb.arrivals] == [e * DELTA_US for e in entries if e is not None]


def test_delta_beyond_16_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        build_feedback(0, 0, 0, 0, 0, [0, 0x8000])


def test_long_runs_of_losses_use_run_length_chunks() -> None:
    entries: list[int | None] = [0, *([None] * 5000), 100]
    packet = build_feedback(0, 0, 0, 0, 0, entries)
    assert len(packet) < 40  # two runs and a vector, not 700 vectors
    fb = parse_feedback(packet)
    assert sum(1 for _, a in fb.arrivals if a is None) == 5000
    assert fb.arrivals[-1] == (5001, 100 * DELTA_US)


def test_negative_reference_time_is_signed_24_bits() -> None:
    reference = (0xFFFFFF) * 256  # -1 as 24-bit reference
    packet = build_feedback(0, 0, 0, reference, 0, [reference + 4])
    fb = parse_feedback(packet)
    assert fb.reference_us == -64_000


def test_malformed_feedback_is_a_value_error() -> None:
    packet = build_feedback(0, 0, 0, 0, 0, [1, 2, 3])
    with pytest.raises(ValueError):
        parse_feedback(packet[:20])
    with pytest.raises(ValueError):
        parse_feedback(b"\x81\xc9\x00\x07" + packet[4:])  # a receiver report


@given(
    st.integers(0, 0xFFFF),
    st.lists(st.one_of(st.none(), st.integers(-300, 3000)), min_size=1, max_size=300),
)
def test_any_statuses_round_trip(base: int, steps: list[int | None]) -> None:
    reference = 256 * 1000
    entries: list[int | None] = []
    at = reference
    for step in steps:
        if step is None:
            entries.append(None)
        else:
            at = max(reference, at + step)
            entries.append(at)
    if all(e is None for e in entries):
        entries[0] = reference
    fb = parse_feedback(build_feedback(3, 4, base, reference, 1, entries))
    assert len(fb.arrivals) == len(entries)
    assert [a for _, a in fb.arrivals] == [None if e is None else e * DELTA_US for e in entries]
    assert [s for s, _ in fb.arrivals] == [(base + k) & 0xFFFF for k in range(len(entries))]


def test_recorder_reports_losses_and_arrivals_across_the_16_bit_wrap() -> None:
    recorder = ArrivalRecorder(sender_ssrc=11)
    recorder.media_ssrc = 22
    base_us = 5_000_000
    for k, seq in enumerate([65533, 65534, 0, 1]):  # 65535 lost
        recorder.record(seq, base_us + 1000 * k)
    (packet,) = recorder.feedback()
    fb = parse_feedback(packet)
    assert (fb.sender_ssrc, fb.media_ssrc, fb.base_seq) == (11, 22, 65533)
    assert [s for s, _ in fb.arrivals] == [65533, 65534, 65535, 0, 1]
    times = dict(fb.arrivals)
    assert times[65535] is None
    assert times[1] is not None and times[65533] is not None
    assert times[1] - times[65533] == 3000
    assert recorder.feedback() == []  # nothing new


def test_recorder_continues_from_where_the_last_feedback_stopped() -> None:
    recorder = ArrivalRecorder()
    recorder.record(10, 1_000_000)
    first = parse_feedback(recorder.feedback()[0])
    recorder.record(13, 1_050_000)  # 11 and 12 lost
    second = parse_feedback(recorder.feedback()[0])
    assert first.feedback_count + 1 == second.feedback_count
    assert second.base_seq == 11
    assert dict(second.arrivals) == {11: None, 12: None, 13: 1_050_000}


def test_recorder_splits_when_a_gap_in_time_exceeds_a_delta() -> None:
    recorder = ArrivalRecorder()
    recorder.record(1, 1_000_000)
    recorder.record(2, 1_000_000 + 9_000_000)  # 9 s later: beyond 8.19 s of deltas
    packets = recorder.feedback()
    assert len(packets) == 2
    arrivals = [a for p in packets for a in parse_feedback(p).arrivals]
    assert arrivals == [(1, 1_000_000), (2, 10_000_000)]


def test_recorder_caps_each_packet_and_reports_everything() -> None:
    recorder = ArrivalRecorder()
    n = MAX_STATUSES * 2 + 5
    for seq in range(n):
        recorder.record(seq, 2_000_000 + seq * 100)
    packets = recorder.feedback()
    assert len(packets) == 3
    seqs = [s for p in packets for s, a in parse_feedback(p).arrivals if a is not None]
    assert seqs == list(range(n))


def test_split_compound_separates_transport_feedback() -> None:
    fb = build_feedback(1, 2, 3, 0, 0, [4])
    rr = struct.pack("!BBHL", 0x80, 201, 1, 99)
    found, rest = split_compound(rr + fb + rr)
    assert found == [fb]
    assert rest == rr + rr
