"""The ballot box: one member one vote, idempotent retries, changes, hand counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meeting.errors import Conflict, InvalidInput, InvalidState, MeetingError, NotAuthorised
from voting.ballot_box import BallotBox, BallotCast
from voting.poll import BallotKind, OptionsPreset, Poll, PollConfig
from voting.rules import Counts, MajorityRule, Outcome

T0 = datetime(2025, 11, 26, 13, 0, tzinfo=UTC)
YES, NO, ABSTAIN = 0, 1, 2


def bid(n: int) -> str:
    return f"ballot-{n:012d}"


def open_box(config: PollConfig | None = None) -> BallotBox:
    poll = Poll("poll-1", config or PollConfig.motion("Adopt?"))
    poll.open(T0, quorate=True)
    return BallotBox(poll)


def code_of(action: Callable[[], object]) -> str:
    with pytest.raises(MeetingError) as info:
        action()
    return str(info.value.code)


# -- examples ----------------------------------------------------------------------------


def test_second_ballot_with_same_id_returns_same_receipt() -> None:
    box = open_box()
    first = box.cast("alice", bid(1), [YES], T0, eligible=True)
    again = box.cast("alice", bid(1), [YES], T0, eligible=True)
    assert again.receipt == first.receipt and again.duplicate and not first.duplicate
    assert again.events == () and box.tally().counts == (1, 0, 0)


def test_same_ballot_id_with_other_choice_is_a_conflict() -> None:
    box = open_box()
    box.cast("alice", bid(1), [YES], T0, eligible=True)
    assert code_of(lambda: box.cast("alice", bid(1), [NO], T0, eligible=True)) == ("ballot_id_reused")


def test_second_ballot_with_new_id_is_refused() -> None:
    box = open_box()
    box.cast("alice", bid(1), [YES], T0, eligible=True)
    with pytest.raises(Conflict) as info:
        box.cast("alice", bid(2), [NO], T0, eligible=True)
    assert info.value.code == "already_voted"
    assert box.tally().counts == (1, 0, 0)


def test_change_replaces_and_tally_reflects_latest_only() -> None:
    box = open_box(PollConfig.motion("Adopt?", allow_change=True))
    box.cast("alice", bid(1), [YES], T0, eligible=True)
    changed = box.cast("alice", bid(2), [NO], T0, eligible=True)
    assert changed.replaced and box.tally().counts == (0, 1, 0) and box.voted_count == 1
    # a late retry of the replaced ballot must not undo the change
    assert code_of(lambda: box.cast("alice", bid(1), [YES], T0, eligible=True)) == ("ballot_superseded")
    assert box.tally().counts == (0, 1, 0)


def test_ineligible_voter_is_refused() -> None:
    box = open_box()
    with pytest.raises(NotAuthorised) as info:
        box.cast("observer", bid(1), [YES], T0, eligible=False)
    assert info.value.code == "not_eligible" and box.voted_count == 0


def test_cast_after_close_is_refused_but_retry_still_gets_receipt() -> None:
    box = open_box()
    first = box.cast("alice", bid(1), [YES], T0, eligible=True)
    box.poll.close(T0)
    with pytest.raises(InvalidState) as info:
        box.cast("bob", bid(2), [NO], T0, eligible=True)
    assert info.value.code == "poll_closed"
    assert box.cast("alice", bid(1), [YES], T0, eligible=True).receipt == first.receipt


def test_cast_before_open_and_after_time_limit() -> None:
    poll = Poll("poll-1", PollConfig.motion("Adopt?", time_limit_s=10))
    box = BallotBox(poll)
    assert code_of(lambda: box.cast("a", bid(1), [YES], T0, eligible=True)) == "poll_not_open"
    poll.open(T0, quorate=True)
    box.cast("a", bid(1), [YES], T0 + timedelta(seconds=9), eligible=True)
    late = T0 + timedelta(seconds=10)
    assert code_of(lambda: box.cast("b", bid(2), [YES], late, eligible=True)) == "poll_closed"


def test_bad_input_is_refused() -> None:
    box = open_box()
    for action in (
        lambda: box.cast("alice", bid(1), [3], T0, eligible=True),
        lambda: box.cast("alice", bid(1), [YES, NO], T0, eligible=True),
        lambda: box.cast("alice", "short", [YES], T0, eligible=True),
        lambda: box.cast("", bid(1), [YES], T0, eligible=True),
        lambda: box.cast("alice", bid(1), [YES], datetime(2025, 1, 1), eligible=True),
    ):
        with pytest.raises(InvalidInput):
            action()
    assert box.voted_count == 0


def test_open_cast_event_shape() -> None:
    box = open_box()
    result = box.cast("alice", bid(1), [YES], T0, eligible=True)
    (event,) = result.events
    assert isinstance(event, BallotCast)
    data = event.to_dict()
    assert data["type"] == "ballot_cast" and data["voter_id"] == "alice"
    assert data["choices"] == [0] and data["at"] == "2025-11-26T13:00:00Z"
    assert data["replaces_key"] is None and len(data["ballot_key"]) == 64
    assert result.ack() == {
        "ok": True,
        "poll_id": "poll-1",
        "receipt": result.receipt,
        "choices": [0],
        "duplicate": False,
        "replaced": False,
    }


@pytest.mark.parametrize("replaces", [5, "short", ["x" * 20], True])
def test_a_malformed_replaces_is_invalid_input_naming_replaces(replaces: object) -> None:
    box = open_box(PollConfig.motion("Adopt?", allow_change=True))
    with pytest.raises(InvalidInput) as info:
        box.cast("alice", bid(1), [YES], T0, eligible=True, replaces=replaces)  # type: ignore[arg-type]
    assert info.value.code == "invalid_input" and info.value.details["field"] == "replaces"
    box.cast("alice", bid(2), [YES], T0, eligible=True)  # the box is untouched by the refusal
    with pytest.raises(InvalidInput) as info:
        box.cast("alice", bid(3), [NO], T0, eligible=True, replaces=replaces)  # type: ignore[arg-type]
    assert info.value.details["field"] == "replaces"


# -- hand counts --------------------------------------------------------------------------


def test_hand_counts_are_kept_apart_and_combined() -> None:
    box = open_box()
    box.cast("alice", bid(1), [YES], T0, eligible=True)
    entry = box.record_hand_count("secretary", None, {YES: 3, NO: 1}, hand_eligible=5, now=T0)
    box.record_hand_count("operator-isle", "Isle post", {NO: 2}, hand_eligible=2, now=T0)
    tally = box.tally()
    assert tally.electronic.counts == (1, 0, 0) and tally.hand.counts == (3, 3, 0)
    assert tally.counts == (4, 3, 0) and tally.voters == 7
    data = entry.to_dict()
    assert data["type"] == "hand_count_recorded" and data["entered_by"] == "secretary"
    assert data["hands"] == 4 and data["site"] is None
    box.poll.close(T0)
    result = box.result(Counts(entitled=10, present=9))
    assert isinstance(result.outcome, Outcome) and result.outcome.adopted  # 4 of 7


def test_hand_count_correction_replaces_the_site_entry() -> None:
    box = open_box()
    box.record_hand_count("secretary", None, {YES: 3}, hand_eligible=5, now=T0)
    again = box.record_hand_count("secretary", None, {YES: 2}, hand_eligible=5, now=T0)
    assert again.corrects_previous and box.tally().hand.counts == (2, 0, 0)


def test_hand_count_limits() -> None:
    box = open_box()
    assert (
        code_of(lambda: box.record_hand_count("s", None, {YES: 3, NO: 3}, hand_eligible=5, now=T0))
        == "too_many_hands"
    )
    assert (
        code_of(lambda: box.record_hand_count("s", None, {7: 1}, hand_eligible=5, now=T0))
        == "option_out_of_range"
    )
    assert (
        code_of(lambda: box.record_hand_count("s", None, {YES: -1}, hand_eligible=5, now=T0))
        == "invalid_input"
    )
    secret = open_box(PollConfig.motion("Q", kind=BallotKind.SECRET))
    assert (
        code_of(lambda: secret.record_hand_count("s", None, {YES: 1}, hand_eligible=5, now=T0))
        == "hand_count_secret"
    )
    multi = open_box(PollConfig.election("E", ["A", "B", "C"], max_choices=2, kind=BallotKind.OPEN))
    assert (
        code_of(lambda: multi.record_hand_count("s", None, {0: 1}, hand_eligible=5, now=T0))
        == "hand_count_not_supported"
    )
    box.poll.close(T0)
    assert (
        code_of(lambda: box.record_hand_count("s", None, {YES: 1}, hand_eligible=5, now=T0)) == "poll_closed"
    )


# -- results and restore --------------------------------------------------------------------


def test_result_of_an_election() -> None:
    config = PollConfig.election("Two delegates", ["Ana", "Bo", "Cy"], max_choices=2, kind=BallotKind.OPEN)
    box = open_box(config)
    for i, choices in enumerate([[0, 1], [0, 2], [0, 1], [1], []]):
        box.cast(f"m{i}", bid(i), choices, T0, eligible=True)
    box.poll.close(T0)
    data = box.result(Counts(entitled=9, present=6)).to_dict()
    assert data["type"] == "poll_result"
    assert data["tally"]["counts"] == [3, 3, 1] and data["tally"]["abstentions"] == 1
    assert data["outcome"]["elected"] == ["Ana", "Bo"]  # 3 of 4 non-blank ballots each
    assert len(data["receipts"]) == 5


def test_restore_after_restart_keeps_ballots_and_idempotency() -> None:
    config = PollConfig.motion("Q", allow_change=True)
    box = open_box(config)
    receipts = {}
    for i in range(5):
        receipts[i] = box.cast(f"m{i}", bid(i), [i % 3], T0, eligible=True).receipt
    change = box.cast("m0", bid(10), [NO], T0, eligible=True, replaces=bid(0))
    (cast,) = change.events
    assert isinstance(cast, BallotCast) and cast.replaces_key is not None
    poll = Poll.restore("poll-1", config, opened_at=T0, closed_at=None, quorate=True)
    restored = BallotBox.restore(poll, ballots=box.stored_ballots(), superseded=[cast.replaces_key])
    assert restored.has_voted("m3") and restored.voted_count == 5
    assert restored.cast("m3", bid(3), [0], T0, eligible=True).receipt == receipts[3]
    assert code_of(lambda: restored.cast("m0", bid(0), [0], T0, eligible=True)) == ("ballot_superseded")
    poll.close(T0)
    box.poll.close(T0)
    assert restored.tally() == box.tally()
    assert restored.published_receipts() == box.published_receipts()


# -- the property: random sequences of casts, retries, re-votes, eligibility, close ----------


@st.composite
def scenario(draw: st.DrawFn) -> tuple[PollConfig, list[tuple[Any, ...]]]:
    kind = BallotKind.OPEN  # a secret poll takes only encrypted ballots (voting/e2e)
    allow_change = draw(st.booleans())
    if draw(st.booleans()):
        config = PollConfig.motion("Q", kind=kind, allow_change=allow_change)
        choice = st.integers(0, 2).map(lambda i: [i])
    else:
        config = PollConfig.election(
            "E", ["A", "B", "C", "D"], max_choices=2, kind=kind, allow_change=allow_change
        )
        choice = st.lists(st.integers(0, 3), max_size=2, unique=True)
    op = st.one_of(
        st.tuples(
            st.just("cast"),
            st.integers(0, 5),
            st.integers(0, 3),
            choice,
            st.booleans() | st.just(True),
            st.none() | st.integers(0, 3),
        ),
        st.tuples(st.just("bad"), st.integers(0, 5), st.integers(0, 3)),
        st.tuples(st.just("close")),
    )
    return config, draw(st.lists(op, max_size=60))


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_tally_equals_accepted_ballots_and_retries_are_idempotent(
    case: tuple[PollConfig, list[tuple[Any, ...]]],
) -> None:
    config, ops = case
    box = open_box(config)
    current: dict[str, tuple[str, tuple[int, ...]]] = {}  # voter -> (ballot id, choices)
    receipts: dict[tuple[str, str], str] = {}  # (voter, ballot id) -> receipt
    superseded: set[tuple[str, str]] = set()
    closed = False

    for op in ops:
        if op[0] == "close":
            if not closed:
                box.poll.close(T0)
                closed = True
            continue
        if op[0] == "bad":
            with pytest.raises(InvalidInput):
                box.cast(f"m{op[1]}", bid(op[2]), [9], T0, eligible=True)
            continue
        _, v, b, choices, eligible, replaces_n = op
        voter, ballot = f"m{v}", bid(b)
        replaces = None if replaces_n is None else bid(replaces_n)
        normal = tuple(sorted(choices))
        mine = current.get(voter)

        attempt = partial(box.cast, voter, ballot, choices, T0, eligible, replaces)

        if mine is not None and mine[0] == ballot:
            if mine[1] == normal:
                result = attempt()
                assert result.duplicate and result.receipt == receipts[(voter, ballot)]
            else:
                assert code_of(attempt) == "ballot_id_reused"
        elif (voter, ballot) in superseded:
            assert code_of(attempt) == "ballot_superseded"
        elif closed:
            assert code_of(attempt) == "poll_closed"
        elif not eligible:
            assert code_of(attempt) == "not_eligible"
        elif mine is None:
            if replaces is not None:
                assert code_of(attempt) == "replaced_ballot_unknown"
            else:
                result = attempt()
                assert not result.duplicate and not result.replaced
                current[voter] = (ballot, normal)
                receipts[(voter, ballot)] = result.receipt
        elif not config.allow_change:
            assert code_of(attempt) == "already_voted"
        elif replaces is not None and replaces != mine[0]:
            assert code_of(attempt) == "replaced_ballot_unknown"
        else:
            result = attempt()
            assert result.replaced and not result.duplicate
            superseded.add((voter, mine[0]))
            current[voter] = (ballot, normal)
            receipts[(voter, ballot)] = result.receipt

        # nobody votes twice; the live tally equals the accepted ballots
        assert box.voted_count == len(current)
        assert all(box.has_voted(voter) for voter in current)
        assert box.tally().counts == _expected_counts(config, current)

    if not closed:
        box.poll.close(T0)
    tally = box.tally()
    assert tally.counts == _expected_counts(config, current)
    assert tally.voters == len(current)
    published = box.published_receipts()
    # named vote: sorted by voter
    named = sorted((v, receipts[(v, b)], list(c)) for v, (b, c) in current.items())
    assert [(r["voter_id"], r["receipt"], r["choices"]) for r in published] == named
    assert len({r["receipt"] for r in published}) == len(published)


def _expected_counts(config: PollConfig, current: dict[str, tuple[str, tuple[int, ...]]]) -> tuple[int, ...]:
    marks = Counter(c for _, choices in current.values() for c in choices)
    return tuple(marks[i] for i in range(len(config.options)))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=30))
def test_tally_with_hand_counts_is_electronic_plus_hands(
    entries: list[tuple[int, int]],
) -> None:
    box = open_box(PollConfig.motion("Q", preset=OptionsPreset.YES_NO))
    box.cast("alice", bid(1), [YES], T0, eligible=True)
    latest: dict[str | None, tuple[int, int]] = {}
    for site_n, yes in entries:
        site = None if site_n == 0 else f"site-{site_n}"
        box.record_hand_count("op", site, {YES: yes, NO: 1}, hand_eligible=yes + 1, now=T0)
        latest[site] = (yes, 1)
    tally = box.tally()
    assert tally.hand.counts == (
        sum(y for y, _ in latest.values()),
        sum(n for _, n in latest.values()),
    )
    assert tally.counts == (1 + tally.hand.counts[0], tally.hand.counts[1])
    assert tally.electronic.counts == (1, 0)


def test_rules_see_combined_tally() -> None:
    box = open_box(PollConfig.motion("Q", rule=MajorityRule.two_thirds_cast()))
    box.cast("alice", bid(1), [NO], T0, eligible=True)
    box.record_hand_count("s", None, {YES: 2}, hand_eligible=2, now=T0)
    box.poll.close(T0)
    outcome = box.result(Counts(5, 5)).outcome
    assert isinstance(outcome, Outcome) and outcome.adopted  # 2 of 3 is exactly 2/3
