"""The live board a trustee's device follows during a poll, and its check at close."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from meeting.errors import InvalidInput, InvalidState
from voting.e2e import ballot as eb
from voting.e2e import tally
from voting.e2e.board import LIVE_CHUNK, EncryptedBox
from voting.e2e.follow import BoardFollower

from .test_e2e_board import SECRETS, T0, _ballot, _box


def _cast(box: EncryptedBox, n: int, start: int = 0) -> list[int]:
    marks = []
    for i in range(start, start + n):
        choice = i % 3
        box.cast(f"m{i}", f"b{i:019d}", _ballot(box, [int(j == choice) for j in range(3)]), T0, True)
        marks.append(choice)
    return marks


def test_the_live_board_releases_only_full_chunks_each_sorted_by_tracker() -> None:
    box = _box()
    _cast(box, LIVE_CHUNK - 1)
    assert box.live_board(0) == ([], 0)  # 31 ballots: nothing can be told apart yet
    _cast(box, 1, LIVE_CHUNK - 1)
    entries, nxt = box.live_board(0)
    assert nxt == LIVE_CHUNK and len(entries) == LIVE_CHUNK
    assert [e["tracker"] for e in entries] == sorted(e["tracker"] for e in entries)
    assert all(set(e) == {"tracker", "ballot"} for e in entries)  # no voter, time or supersession
    assert box.live_board(LIVE_CHUNK) == ([], LIVE_CHUNK)
    with pytest.raises(InvalidInput):
        box.live_board(5)
    box.poll.close(T0 + timedelta(minutes=1))
    with pytest.raises(InvalidState) as err:
        box.live_board(0)
    assert err.value.code == "poll_not_open"


def _closed_board(box: EncryptedBox) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    box.poll.close(T0 + timedelta(minutes=1))
    return [e.to_dict() for e in box.board()], tally.sums_to_list(box.sums())


def test_a_follower_checks_live_ballots_once_and_decrypts_the_same_counts_at_close() -> None:
    box = _box(allow_change=True)
    marks = _cast(box, LIVE_CHUNK + 5)
    follower = BoardFollower(box.ctx)
    entries, nxt = box.live_board(0)
    assert follower.take_live(entries, nxt) == LIVE_CHUNK
    assert follower.take_live(entries, nxt) == 0  # the same chunk again: nothing new
    # a voter changes their mind after their first ballot was seen live
    box.cast("m0", "c" * 20, _ballot(box, [0, 0, 1]), T0, True, replaces=f"b{0:019d}")
    marks[0] = 2
    board, sums = _closed_board(box)
    mine = follower.closed_sums(board, sums)
    assert follower.checked == LIVE_CHUNK + 6  # the 5 not yet seen and the change: checked at close
    parts = [tally.partial_decrypt(box.ctx, t, x, mine) for t, x in SECRETS.items()]
    for t, p in zip(SECRETS, parts, strict=True):
        box.add_decryption(t, p)
    assert box.counts() == tuple(marks.count(j) for j in range(3))


@pytest.mark.parametrize("alter", ["ballot", "tracker", "twice", "sums", "superseded"])
def test_a_closed_board_that_differs_from_what_was_checked_is_refused(alter: str) -> None:
    box = _box()
    _cast(box, LIVE_CHUNK)
    follower = BoardFollower(box.ctx)
    follower.take_live(*box.live_board(0))
    board, sums = _closed_board(box)
    board = copy.deepcopy(board)
    if alter == "ballot":  # same tracker, another (valid) ballot's body
        other, _ = eb.encrypt_ballot(box.ctx, [1, 0, 0])
        board[3]["ballot"] = other.to_dict()
        code = "tracker_mismatch"
    elif alter == "tracker":
        board[3]["tracker"] = "0" * 64
        code = "tracker_mismatch"
    elif alter == "twice":  # a ballot counted twice
        board[4] = board[3]
        code = "duplicate_ballot"
    elif alter == "sums":
        sums = [sums[1], sums[0], sums[2]]
        code = "sums_mismatch"
    else:  # a counted ballot marked superseded: the sums no longer add up
        board[2]["superseded"] = True
        code = "sums_mismatch"
    with pytest.raises(InvalidInput) as err:
        follower.closed_sums(board, sums)
    assert err.value.code == code


def test_a_bad_live_ballot_is_refused_and_not_remembered() -> None:
    box = _box()
    _cast(box, LIVE_CHUNK)
    entries, nxt = box.live_board(0)
    bad = copy.deepcopy(entries)
    bad[0]["ballot"]["proofs"][0][0]["s"] = bad[0]["ballot"]["proofs"][0][1]["s"]
    follower = BoardFollower(box.ctx)
    with pytest.raises(InvalidInput) as err:
        follower.take_live(bad, nxt)
    assert err.value.code in {"invalid_proof", "tracker_mismatch"}
    assert follower.live_from == 0
    board, sums = _closed_board(box)
    assert follower.closed_sums(board, sums) == box.sums()  # the good bytes check at close


def test_restored_box_restarts_live_chunks_and_the_follower_still_agrees() -> None:
    box = _box()
    _cast(box, 2 * LIVE_CHUNK)
    follower = BoardFollower(box.ctx)
    follower.take_live(*box.live_board(0))
    rows = [(s.key, s.ballot, False) for s in box._current.values()][::-1]  # another order
    again = EncryptedBox.restore(box.poll, box.ctx, box.trustees, ballots=rows, voters=box.voters())
    entries, nxt = again.live_board(follower.live_from)
    assert nxt == 2 * LIVE_CHUNK
    follower.take_live(entries, nxt)
    board, sums = _closed_board(again)
    assert follower.closed_sums(board, sums) == again.sums()
