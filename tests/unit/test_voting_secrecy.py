"""Secret ballots: nothing in the box, its events or its published list links a voter
to a choice, and the voting core stays pure."""

from __future__ import annotations

import ast
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import voting
from meeting.errors import InvalidState
from voting.ballot_box import BallotBox, CastEvent, SecretBallotStored, VoterMarked
from voting.poll import BallotKind, Poll, PollConfig

T0 = datetime(2025, 11, 26, 13, 0, tzinfo=UTC)
CONFIG = PollConfig.election(
    "Delegates", ["Ana", "Bo", "Cy"], max_choices=2, kind=BallotKind.SECRET, allow_change=True
)


def fresh_box(token_seed: int | None = None) -> BallotBox:
    poll = Poll("poll-s", CONFIG)
    poll.open(T0, quorate=True)
    if token_seed is None:
        return BallotBox(poll)
    rng = random.Random(token_seed)
    return BallotBox(poll, token=lambda n: rng.randbytes(n))


ballots_st = st.lists(
    st.tuples(st.integers(0, 10**6), st.lists(st.integers(0, 2), max_size=2, unique=True)),
    min_size=1,
    max_size=25,
    unique_by=lambda t: t[0],
)


@settings(max_examples=100, deadline=None)
@given(ballots_st, st.randoms(use_true_random=False))
def test_storage_order_and_published_order_do_not_depend_on_cast_order(
    ballots: list[tuple[int, list[int]]], rnd: random.Random
) -> None:
    def run(order: list[tuple[int, list[int]]]) -> BallotBox:
        box = fresh_box()
        for member, choices in order:
            box.cast(f"member-{member}", f"ballot-{member:012d}", choices, T0, eligible=True)
        box.poll.close(T0)
        return box

    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    first, second = run(ballots), run(shuffled)
    # the stored sequence of ballot keys is the same whatever the cast order
    assert [b.key for b in first.stored_ballots()] == [b.key for b in second.stored_ballots()]
    # the published list is ordered by receipt only, and has no voter in it
    for box in (first, second):
        published = box.published_receipts()
        assert [r["receipt"] for r in published] == sorted(r["receipt"] for r in published)
        assert all(set(r) == {"receipt", "choices"} for r in published)
        assert all(b.voter_id is None for b in box.stored_ballots())
    assert first.tally() == second.tally()


def test_receipt_is_not_derived_from_the_voter() -> None:
    alice = fresh_box(token_seed=7).cast("alice", "ballot-000000000001", [0], T0, eligible=True)
    bob = fresh_box(token_seed=7).cast("bob", "ballot-000000000001", [0], T0, eligible=True)
    assert alice.receipt == bob.receipt  # same randomness, different voter: same code
    other = fresh_box(token_seed=8).cast("alice", "ballot-000000000001", [0], T0, eligible=True)
    assert other.receipt != alice.receipt


def test_receipts_are_random_and_unique() -> None:
    box = fresh_box()
    receipts = {box.cast(f"m{i}", f"ballot-{i:012d}", [i % 3], T0, eligible=True).receipt for i in range(500)}
    assert len(receipts) == 500
    assert all(len(r) == 19 and r.count("-") == 3 for r in receipts)


def test_events_split_the_voter_from_the_ballot() -> None:
    box = fresh_box()
    events: list[CastEvent] = []
    for i in range(20):
        events.extend(box.cast(f"member-{i}", f"ballot-{i:012d}", [i % 3], T0, eligible=True).events)
    marks = [e.to_dict() for e in events if isinstance(e, VoterMarked)]
    stored = [e.to_dict() for e in events if isinstance(e, SecretBallotStored)]
    assert len(marks) == len(stored) == 20
    for mark in marks:
        assert set(mark) == {"type", "poll_id", "voter_id"}
    for ballot in stored:
        assert "voter_id" not in ballot and "at" not in ballot
        assert not any(f"member-{i}" in str(ballot.values()) for i in range(20))


def test_live_view_of_secret_poll_shows_only_how_many_voted() -> None:
    box = fresh_box()
    box.cast("alice", "ballot-000000000001", [0], T0, eligible=True)
    view = box.live_view()
    assert view == {"type": "tally_updated", "poll_id": "poll-s", "state": "open", "voted": 1}
    box.poll.close(T0)
    assert box.live_view()["tally"]["counts"] == [1, 0, 0]


def test_secret_tally_is_sealed_until_close() -> None:
    box = fresh_box()
    with pytest.raises(InvalidState) as info:
        box.tally()
    assert info.value.code == "tally_sealed"


FORBIDDEN = {
    "aiohttp",
    "sqlalchemy",
    "socketio",
    "aiortc",
    "aiosqlite",
    "av",
    "logging",
    "asyncio",
    "os",
    "socket",
    "pathlib",
    "io",
    "time",
    "random",
}


def test_voting_core_imports_no_framework_and_does_no_io() -> None:
    package = Path(voting.__file__).parent
    for module in sorted(package.glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN, f"{module.name} imports {name}"
                assert top in sys.stdlib_module_names or top in {"voting", "meeting"}, (
                    f"{module.name} imports {name}"
                )
                if top == "meeting":
                    assert name in {"meeting.errors", "meeting.threshold"}, f"{module.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print"}, f"{module.name} does I/O"
