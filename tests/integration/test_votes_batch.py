"""A group commit never fails for one member's input: a malformed ballot is refused
before it joins a batch, and a batch whose commit fails is retried cast by cast, so
only the offending cast is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voting.ballot_box import BallotBox

from .procedure_helpers import ballot_id, open_poll, quorate_meeting, seen


async def _cast_together(members: list[Any], payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All casts in flight at once, so they share the server's group-commit window."""
    return list(
        await asyncio.gather(*(m.emit("cast_ballot", p) for m, p in zip(members, payloads, strict=True)))
    )


async def test_a_malformed_replaces_is_refused_alone_and_honest_casts_in_the_window_commit(sign_in) -> None:
    chair, members = await quorate_meeting(sign_in)
    offender, honest = members[0], members[1:]
    for _round in range(3):
        poll_id = await open_poll(chair)
        bad = {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0], "replaces": 5}
        good = [{"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]} for _ in honest]
        acks = await _cast_together([offender, *honest], [bad, *good])
        assert acks[0]["ok"] is False and acks[0]["error"] == "invalid_input", acks[0]
        assert acks[0]["details"]["field"] == "replaces"
        assert all(a["ok"] and a["receipt"] for a in acks[1:]), acks[1:]
        update = await seen(
            chair, "tally_updated", lambda d, p=poll_id: d["poll_id"] == p and d["voted"] == 5
        )
        assert update["tally"]["counts"] == [5, 0, 0]
        await chair.emit("close_poll", {"poll_id": poll_id})


async def test_a_batch_whose_commit_fails_is_retried_cast_by_cast(
    sign_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault while applying one ballot (here injected into the ballot box for one
    ballot id) fails the whole group transaction; the others are then committed alone."""
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    cursed = ballot_id()
    real_cast = BallotBox.cast

    def cast(self: BallotBox, voter_id: str, bid: str, *args: Any, **kwargs: Any) -> Any:
        if bid == cursed:
            raise RuntimeError("injected fault for one ballot")
        return real_cast(self, voter_id, bid, *args, **kwargs)

    monkeypatch.setattr(BallotBox, "cast", cast)
    payloads = [{"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]} for _ in members]
    payloads[2]["ballot_id"] = cursed
    acks = await _cast_together(members, payloads)
    assert acks[2]["ok"] is False and acks[2]["error"] == "internal", acks[2]
    others = acks[:2] + acks[3:]
    assert all(a["ok"] and a["receipt"] for a in others), others
    monkeypatch.undo()
    state = await chair.emit("get_poll_state", {"poll_id": poll_id})
    assert state["poll"]["voted"] == 5 and state["poll"]["tally"]["counts"] == [0, 5, 0]
    # the offender may try again once the fault is gone
    retry = await members[2].emit("cast_ballot", {**payloads[2], "ballot_id": ballot_id()})
    assert retry["ok"], retry
