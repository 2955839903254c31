"""The encrypted ballot box: casting rules, board, trustees' decryptions, restore."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from meeting.errors import Conflict, InvalidInput, InvalidState, NotAuthorised
from voting import BallotKind, Poll, PollConfig
from voting.e2e import ballot as eb
from voting.e2e import keys, tally
from voting.e2e.board import EncryptedBox, VerifiedBallot, verify_cast

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
X1, K1 = keys.make_trustee_key("5", "chair")
X2, K2 = keys.make_trustee_key("5", "secretary")
TRUSTEES = {"chair": K1.share, "secretary": K2.share}
SECRETS = {"chair": X1, "secretary": X2}


def _box(allow_change: bool = False) -> EncryptedBox:
    poll = Poll("3", PollConfig.motion("Adopt?", kind=BallotKind.SECRET, allow_change=allow_change))
    poll.open(T0, quorate=True)
    ctx = eb.PollContext("5", "3", keys.joint_key([K1, K2]), 3, 1, 1)
    return EncryptedBox(poll, ctx, TRUSTEES)


def _ballot(box: EncryptedBox, marks: list[int]) -> VerifiedBallot:
    b, _ = eb.encrypt_ballot(box.ctx, marks)
    return verify_cast(box.ctx, b.to_dict())


def _decrypt_all(box: EncryptedBox) -> tuple[int, ...] | None:
    for tid, x in SECRETS.items():
        box.add_decryption(tid, tally.partial_decrypt(box.ctx, tid, x, box.sums()))
    return box.counts()


def test_a_retry_returns_the_same_tracker_and_counts_nothing_twice() -> None:
    box = _box()
    v = _ballot(box, [1, 0, 0])
    first = box.cast("m1", "b" * 20, v, T0, True)
    again = box.cast("m1", "b" * 20, v, T0, True)
    assert (again.tracker, again.duplicate, again.events) == (first.tracker, True, ())
    assert [type(e).__name__ for e in first.events] == ["VoterMarked", "EncryptedBallotStored"]
    with pytest.raises(Conflict) as err:
        box.cast("m1", "b" * 20, _ballot(box, [0, 1, 0]), T0, True)
    assert err.value.code == "ballot_id_reused"
    with pytest.raises(Conflict) as err:
        box.cast("m1", "c" * 20, _ballot(box, [0, 1, 0]), T0, True)
    assert err.value.code == "already_voted"
    assert box.voted_count == 1


def test_a_copied_ballot_is_refused_for_another_voter() -> None:
    box = _box()
    v = _ballot(box, [1, 0, 0])
    box.cast("m1", "b" * 20, v, T0, True)
    with pytest.raises(Conflict) as err:
        box.cast("m2", "d" * 20, v, T0, True)
    assert err.value.code == "duplicate_ballot"


def test_unverified_ineligible_and_late_ballots_are_refused() -> None:
    box = _box()
    v = _ballot(box, [1, 0, 0])
    with pytest.raises(InvalidState):
        box.cast("m1", "b" * 20, VerifiedBallot(v.ballot, v.tracker, object()), T0, True)
    with pytest.raises(NotAuthorised):
        box.cast("m1", "b" * 20, v, T0, False)
    box.poll.close(T0 + timedelta(minutes=1))
    with pytest.raises(InvalidState) as err:
        box.cast("m1", "b" * 20, v, T0 + timedelta(minutes=1), True)
    assert err.value.code == "poll_closed"


def test_bad_ballots_never_reach_the_box() -> None:
    box = _box()
    good, _ = eb.encrypt_ballot(box.ctx, [1, 0, 0])
    d = good.to_dict()
    d["proofs"][0][0]["s"] = d["proofs"][0][1]["s"]
    with pytest.raises(InvalidInput) as err:
        verify_cast(box.ctx, d)
    assert err.value.code == "invalid_proof"
    other = eb.PollContext("5", "4", box.ctx.public_key, 3, 1, 1)
    b4, _ = eb.encrypt_ballot(other, [1, 0, 0])
    with pytest.raises(InvalidInput) as err:
        verify_cast(box.ctx, b4.to_dict())
    assert err.value.code == "ballot_for_another_poll"


def test_a_change_supersedes_the_old_ballot_which_stays_on_the_board_uncounted() -> None:
    box = _box(allow_change=True)
    first = box.cast("m1", "b" * 20, _ballot(box, [1, 0, 0]), T0, True)
    box.cast("m2", "e" * 20, _ballot(box, [0, 0, 1]), T0, True)
    second = box.cast("m1", "c" * 20, _ballot(box, [0, 1, 0]), T0, True, replaces="b" * 20)
    assert second.replaced and [type(e).__name__ for e in second.events] == ["EncryptedBallotStored"]
    with pytest.raises(Conflict) as err:
        box.cast("m1", "b" * 20, _ballot(box, [1, 0, 0]), T0, True)
    assert err.value.code == "ballot_superseded"
    box.poll.close(T0 + timedelta(minutes=1))
    board = box.board()
    assert [e.tracker for e in board] == sorted(e.tracker for e in board)
    assert {e.tracker: e.superseded for e in board}[first.tracker] is True
    assert box.counted == 2
    assert _decrypt_all(box) == (0, 1, 1)


def test_decryptions_need_every_trustee_once_with_a_valid_proof() -> None:
    box = _box()
    for i, marks in enumerate(([1, 0, 0], [1, 0, 0], [0, 0, 1])):
        box.cast(f"m{i}", f"{i}" * 20, _ballot(box, marks), T0, True)
    with pytest.raises(InvalidState):
        box.sums()
    box.poll.close(T0 + timedelta(minutes=1))
    sums = box.sums()
    chair = tally.partial_decrypt(box.ctx, "chair", X1, sums)
    with pytest.raises(NotAuthorised) as err:
        box.add_decryption("m1", dataclasses.replace(chair, trustee_id="m1"))
    assert err.value.code == "not_a_trustee"
    with pytest.raises(NotAuthorised):
        box.add_decryption("secretary", chair)
    wrong = tally.partial_decrypt(box.ctx, "secretary", X1, sums)  # the chair's key, secretary's name
    with pytest.raises(InvalidInput) as bad:
        box.add_decryption("secretary", wrong)
    assert bad.value.code == "invalid_decryption_proof"
    box.add_decryption("chair", chair)
    with pytest.raises(Conflict) as dup:
        box.add_decryption("chair", chair)
    assert dup.value.code == "decryption_exists"
    assert box.counts() is None and box.waiting_for == ("secretary",)
    box.add_decryption("secretary", tally.partial_decrypt(box.ctx, "secretary", X2, sums))
    assert box.counts() == (2, 0, 1)


def test_restore_gives_the_same_board_and_counts() -> None:
    box = _box(allow_change=True)
    box.cast("m1", "b" * 20, _ballot(box, [1, 0, 0]), T0, True)
    box.cast("m1", "c" * 20, _ballot(box, [0, 0, 1]), T0, True, replaces="b" * 20)
    box.cast("m2", "d" * 20, _ballot(box, [0, 0, 1]), T0, True)
    box.poll.close(T0 + timedelta(minutes=1))
    rows = [(s.key, s.ballot, False) for s in box._current.values()]
    rows += [(s.key, s.ballot, True) for s in box._superseded.values()]
    again = EncryptedBox.restore(box.poll, box.ctx, TRUSTEES, ballots=rows, voters=["m1", "m2"])
    assert again.board() == box.board()
    assert _decrypt_all(again) == (0, 0, 2)
