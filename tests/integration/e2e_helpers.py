"""Trustees and voters of encrypted polls, played by the Python implementation (the
browser does the same in web/js/e2e.js; tests/browser checks they agree)."""

from __future__ import annotations

from typing import Any

from voting.e2e import ballot as eb
from voting.e2e import group, keys, tally
from voting.e2e.record import context_from_dict

from .conftest import Member


class Trustee:
    """A trustee's device: its secret share stays here."""

    def __init__(self, member: Member, meeting_id: int = 1) -> None:
        self.member = member
        self.secret, self.key = keys.make_trustee_key(str(meeting_id), member.member_id)

    async def post_key(self) -> dict[str, Any]:
        return await self.member.emit("post_trustee_key", {"key": self.key.to_dict()})

    async def decrypt(self, poll_id: int) -> dict[str, Any]:
        """Fetch the board, recompute the sums, verify every ballot, then decrypt."""
        state = await self.member.emit("get_e2e", {"poll_id": poll_id, "board": True})
        assert state["ok"], state
        ctx = context_from_dict(state["poll"]["context"])
        counted = []
        for entry in state["board"]:
            b = eb.EncryptedBallot.from_dict(entry["ballot"])
            eb.verify_ballot(ctx, b)
            assert b.tracker() == entry["tracker"]
            if not entry["superseded"]:
                counted.append(b)
        sums = tally.homomorphic_sums(ctx, counted)
        assert tally.sums_to_list(sums) == state["sums"]
        part = tally.partial_decrypt(ctx, self.member.member_id, self.secret, sums)
        return await self.member.emit(
            "post_partial_decryption", {"poll_id": poll_id, "decryption": part.to_dict()}
        )


async def poll_context(member: Member, poll_id: int) -> eb.PollContext:
    state = await member.emit("get_e2e", {"poll_id": poll_id})
    assert state["ok"] and state["poll"], state
    return context_from_dict(state["poll"]["context"])


def encrypt(ctx: eb.PollContext, marks: list[int]) -> dict[str, Any]:
    return eb.encrypt_ballot(ctx, marks)[0].to_dict()


def marks_for(option: int, n: int = 3) -> list[int]:
    return [int(i == option) for i in range(n)]


__all__ = ["Trustee", "encrypt", "group", "marks_for", "poll_context"]
