"""Screen sharing through the real signaling: a real server (in process, 127.0.0.1), real
Socket.IO clients and real aiortc peers. A share is a publish-only peer connection of its
own; subscribers receive it as the sharer's stream with source "screen".

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration/test_screen_share.py -q'
"""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from media import aiortc_hooks
from meetingd.media_wiring import media_key
from tests.integration.conftest import Member, Server, wait_for
from tests.integration.media_peers import LOOPBACK, Peer, peer, server  # noqa: F401 - fixtures
from tests.integration.test_media_sfu import MovingVideoTrack

pytestmark = pytest.mark.media


class Screen:
    """The sharer's second, publish-only connection (what getDisplayMedia feeds)."""

    def __init__(self, member: Member) -> None:
        self.m = member
        self.pc: RTCPeerConnection | None = None

    async def share(self) -> dict[str, Any]:
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(MovingVideoTrack())
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createOffer())
        ack = await self.m.emit("share_screen", {"sdp": pc.localDescription.sdp, "type": "offer"})
        if ack["ok"]:
            await pc.setRemoteDescription(RTCSessionDescription(**ack["answer"]))
        else:
            await pc.close()
        return ack

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()


def screen_mids(sub: Peer, member_id: str) -> list[str]:
    return [
        mid
        for mid, s in sub.streams.items()
        if s.get("source") == "screen" and s["participant_id"] == member_id
    ]


async def test_a_shared_screen_reaches_everyone_and_the_chair_stops_it(server: Server, peer: Any) -> None:
    chair, sec, bob = await peer("C1-CHAIR"), await peer("C1-SEC"), await peer("C1-002")
    await chair.join("main_room")
    await sec.join()
    await bob.join("remote", profile={"mode": "last_n", "n": 1})  # a weak link still gets the screen
    await sec.publish()
    screen = Screen(sec.m)
    try:
        ack = await screen.share()
        assert ack["ok"], ack
        for who in (chair, sec, bob):
            await wait_for(
                lambda w=who: {"member_id": "C1-SEC", "stopped_by": None} in w.m.seen("screen_share_changed"),
                10,
            )
        # the others receive it as the secretary's screen, apart from her camera; the
        # sharer is never offered her own screen back
        for sub in (chair, bob):
            await wait_for(lambda s=sub: len(screen_mids(s, "C1-SEC")) == 1, 15)
        assert not screen_mids(sec, "C1-SEC")
        sfu = server.app[media_key].sfus[1]
        sessions = sfu._sessions  # the share is a session of its own that receives nothing
        assert sessions["screen:C1-SEC"].publish_only and sessions["screen:C1-SEC"].subscribe_pc is None
        for sub in (chair, bob):
            [mid] = screen_mids(sub, "C1-SEC")
            await wait_for(lambda s=sub, m=mid: s.mid_frames[m] >= 20, 15)
        # a late joiner learns of the share from its media_open ack
        late = await peer("C1-003")
        opened = await late.join()
        assert opened["screen_share"] == "C1-SEC"
        await wait_for(lambda: len(screen_mids(late, "C1-SEC")) == 1, 15)

        # one share at a time; a member without the floor, and a non-sharer, may not
        bob_screen = Screen(bob.m)
        busy = await Screen(chair.m).share()
        assert busy["error"] == "screen_share_busy", busy
        refused = await bob_screen.share()
        assert refused["error"] == "not_authorised", refused
        assert (await bob.m.emit("stop_screen_share", {}))["error"] == "not_authorised"

        # the chair stops it: everyone is told, the m-lines go idle
        stopped = await chair.m.emit("stop_screen_share", {})
        assert stopped == {"ok": True, "member_id": "C1-SEC"}
        for who in (chair, sec, bob, late):
            await wait_for(
                lambda w=who: (
                    {"member_id": None, "stopped_by": "C1-CHAIR"} in w.m.seen("screen_share_changed")
                ),
                10,
            )
        for sub in (chair, bob, late):
            await wait_for(lambda s=sub: not screen_mids(s, "C1-SEC"), 10)
        assert "screen:C1-SEC" not in sfu._sessions
        assert (await chair.m.emit("stop_screen_share", {}))["error"] == "not_sharing"
    finally:
        await screen.close()


async def test_a_member_shares_while_holding_the_floor_and_the_share_ends_with_the_connection(
    server: Server, peer: Any
) -> None:
    chair, alice, bob = await peer("C1-CHAIR"), await peer("C1-001"), await peer("C1-002")
    await chair.join("main_room")
    await alice.join()
    await bob.join()
    assert (await chair.m.call("POST", "/api/meetings/1/open"))[0] == 200
    screen = Screen(alice.m)
    try:
        assert (await screen.share())["error"] == "not_authorised"
        assert (await alice.m.emit("raise_hand", {}))["ok"]
        assert (await chair.m.emit("give_floor", {"member_id": "C1-001"}))["ok"]
        ack = await screen.share()
        assert ack["ok"], ack
        await wait_for(lambda: len(screen_mids(bob, "C1-001")) == 1, 15)
        [mid] = screen_mids(bob, "C1-001")
        await wait_for(lambda: bob.mid_frames[mid] >= 10, 15)
        # a screen share carries video only
        bad = await server.app[media_key].sfus[1].stats("screen:C1-001")
        assert [t["kind"] for t in bad["publish"]["tracks"]] == ["video"]
        # the sharer's connection goes: the share ends, everyone is told
        await alice.m.close()
        await wait_for(
            lambda: {"member_id": None, "stopped_by": "C1-001"} in bob.m.seen("screen_share_changed"), 10
        )
        await wait_for(lambda: not screen_mids(bob, "C1-001"), 10)
    finally:
        await screen.close()
