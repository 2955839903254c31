"""Trustees and voters of encrypted polls, played by the Python implementation (the
browser does the same in web/js/e2e-*.js; tests/browser checks they agree)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from voting.e2e import ballot as eb
from voting.e2e import dkg, group, keys, tally
from voting.e2e.follow import BoardFollower
from voting.e2e.record import context_from_dict

from .conftest import Member


class Trustee:
    """A trustee's device: its secret share stays here."""

    def __init__(self, member: Member, meeting_id: int = 1) -> None:
        self.member = member
        self.secret, self.key = keys.make_trustee_key(str(meeting_id), member.member_id)
        self.followers: dict[int, BoardFollower] = {}

    async def post_key(self) -> dict[str, Any]:
        return await self.member.emit("post_trustee_key", {"key": self.key.to_dict()})

    async def follow(self, poll_id: int) -> dict[str, Any]:
        return await _follow(self.member, self.followers, poll_id)

    async def decrypt(self, poll_id: int) -> dict[str, Any]:
        return await _decrypt(self.member, self.followers, self.secret, poll_id)


def _follower(followers: dict[int, BoardFollower], poll_id: int, state: dict[str, Any]) -> BoardFollower:
    """As the web client: the context must be this poll's, and the same every time."""
    ctx = context_from_dict(state["poll"]["context"])
    assert ctx.poll_id == str(poll_id), "the server showed another poll's context"
    if poll_id not in followers:
        followers[poll_id] = BoardFollower(ctx)
    assert followers[poll_id].ctx == ctx, "the server showed this poll with another context"
    return followers[poll_id]


async def _follow(member: Member, followers: dict[int, BoardFollower], poll_id: int) -> dict[str, Any]:
    """While the poll is open: fetch the live board's new chunks and check them now."""
    known = followers.get(poll_id)
    state = await member.emit("get_e2e", {"poll_id": poll_id, "live_from": known.live_from if known else 0})
    if state["ok"] and "live_board" in state:
        live = state["live_board"]
        _follower(followers, poll_id, state).take_live(live["entries"], live["next"])
    return state


async def _decrypt(
    member: Member, followers: dict[int, BoardFollower], secret: int, poll_id: int
) -> dict[str, Any]:
    """Fetch the board, check every ballot (those followed live: the same bytes) and the
    sums, then decrypt."""
    state = await member.emit("get_e2e", {"poll_id": poll_id, "board": True})
    assert state["ok"], state
    follower = _follower(followers, poll_id, state)
    sums = follower.closed_sums(state["board"], state["sums"])
    part = tally.partial_decrypt(follower.ctx, member.member_id, secret, sums)
    return await member.emit("post_partial_decryption", {"poll_id": poll_id, "decryption": part.to_dict()})


async def poll_context(member: Member, poll_id: int) -> eb.PollContext:
    state = await member.emit("get_e2e", {"poll_id": poll_id})
    assert state["ok"] and state["poll"], state
    return context_from_dict(state["poll"]["context"])


def encrypt(ctx: eb.PollContext, marks: list[int]) -> dict[str, Any]:
    return eb.encrypt_ballot(ctx, marks)[0].to_dict()


def marks_for(option: int, n: int = 3) -> list[int]:
    return [int(i == option) for i in range(n)]


class DkgTrustee:
    """A trustee's device under threshold trustees (chair, secretary, deputy): it takes
    each step of the key generation in turn, checking what the others posted."""

    def __init__(self, member: Member, meeting_id: int = 1) -> None:
        self.member = member
        self.meeting_id = str(meeting_id)
        self.enc_secret = 0
        self.share = 0
        self.followers: dict[int, BoardFollower] = {}

    async def round(self) -> dkg.DkgRound:
        state = await self.member.emit("get_e2e", {})
        assert state["ok"] and state["dkg"], state
        return dkg.DkgRound.from_view(self.meeting_id, state["dkg"])

    async def step(self, r: dkg.DkgRound, step: str, data: dict[str, Any]) -> dict[str, Any]:
        return await self.member.emit("post_dkg_step", {"round": r.round, "step": step, "data": data})

    async def post_key(self) -> dict[str, Any]:
        r = await self.round()
        secret, key = dkg.make_enc_key(self.meeting_id, r.round, self.member.member_id)
        ack = await self.step(r, "key", key.to_dict())
        if ack["ok"]:
            self.enc_secret = secret
        return ack

    async def deal(self, bad_share_for: str | None = None) -> dict[str, Any]:
        r = await self.round()
        d = dkg.make_dealing(self.meeting_id, r.round, self.member.member_id, r.threshold, r.ordered_keys())
        if bad_share_for is not None:  # a faulty device: one share off its polynomial
            j = r.index(bad_share_for) - 1
            bad = dkg.encrypt_share(
                self.meeting_id,
                r.round,
                d.dealer,
                bad_share_for,
                r.keys[bad_share_for].key,
                12345,
                group.random_scalar,
            )
            d = dataclasses.replace(d, shares=(*d.shares[:j], bad, *d.shares[j + 1 :]))
        return await self.step(r, "dealing", d.to_dict())

    async def confirm(self) -> dict[str, Any]:
        """Check every share dealt to this trustee; confirm, or complain about a dealer."""
        r = await self.round()
        self.share, bad = r.check_received(self.member.member_id, self.enc_secret)
        if bad:
            complaint = dkg.make_complaint(
                self.meeting_id, r.round, self.member.member_id, self.enc_secret, r.dealings[bad[0]]
            )
            return await self.step(r, "complaint", complaint.to_dict())
        return await self.step(r, "confirmation", {"verification_key": group.base_mul(self.share).hex()})

    async def decrypt(self, poll_id: int) -> dict[str, Any]:
        return await _decrypt(self.member, self.followers, self.share, poll_id)


async def run_key_generation(trustees: list[DkgTrustee]) -> dict[str, Any]:
    """Each step posted by every device at once (as their browsers do on one broadcast)."""
    for step in (DkgTrustee.post_key, DkgTrustee.deal, DkgTrustee.confirm):
        acks = await asyncio.gather(*(step(t) for t in trustees))
        assert all(a["ok"] for a in acks), acks
    state: dict[str, Any] = await trustees[0].member.emit("get_e2e", {})
    return state


__all__ = ["DkgTrustee", "Trustee", "encrypt", "group", "marks_for", "poll_context", "run_key_generation"]
