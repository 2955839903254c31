"""Live media through the real Socket.IO signaling: a real server (in process, 127.0.0.1),
real Socket.IO clients and real aiortc peer connections.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration -q -m media'

``MEDIA_CYCLES`` (default 100) sets how many join/publish/leave cycles the cleanup test runs.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import os
import resource
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import AudioStreamTrack

from media import aiortc_hooks
from meetingd.config import load_config
from meetingd.media_wiring import client_ice_servers, media_key, turn_credentials
from signaling.media import classify
from tests.integration.conftest import Server, wait_for
from tests.integration.media_peers import LOOPBACK, Peer, peer, server  # noqa: F401 - fixtures
from tests.integration.test_media_sfu import MovingVideoTrack
from tests.support.media_counters import assert_not_forwarded

pytestmark = pytest.mark.media


def _media(server: Server) -> Any:
    return server.app[media_key]


async def test_a_publishers_frames_reach_two_subscribers(server: Server, peer: Any) -> None:
    chair, alice, bob = await peer("C1-CHAIR"), await peer("C1-001"), await peer("C1-002")
    opened = await chair.join("main_room", main_room=True)
    assert opened["ice_servers"] == [] and opened["profile"] == {"mode": "full"}
    assert opened["participant_id"] == "C1-CHAIR" and opened["main_room"] is True
    await alice.join()
    await bob.join()
    await chair.publish()
    for sub in (alice, bob):
        await wait_for(lambda s=sub: s.frames[("C1-CHAIR", "video")] >= 30, 15)
        await wait_for(lambda s=sub: s.frames[("C1-CHAIR", "audio")] >= 50, 15)
        assert not sub.answer_errors
        pubs = [d for d in sub.m.seen("publication_changed") if d["member_id"] == "C1-CHAIR"]
        assert pubs[-1] == {
            "member_id": "C1-CHAIR",
            "audio": True,
            "video": True,
            "main_room": True,
            "muted": False,
            "mic_on": True,
            "camera_on": True,
        }
    # a late joiner learns who publishes from the media_open ack, and its first
    # subscribe offer carries two videos at once
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 10, 15)
    late = await peer("C1-003")
    ack = await late.join()
    assert sorted(p["member_id"] for p in ack["publications"]) == ["C1-001", "C1-CHAIR"]
    for publisher in ("C1-CHAIR", "C1-001"):
        await wait_for(lambda p=publisher: late.frames[(p, "video")] >= 10, 15)
    # alice leaves: the others' m-lines of hers go idle in a new offer
    assert (await alice.m.emit("media_close", {}))["ok"]
    for sub in (bob, late):
        await wait_for(lambda s=sub: not any(x["participant_id"] == "C1-001" for x in s.streams.values()), 10)
    video = late.frames[("C1-CHAIR", "video")]
    await wait_for(lambda: late.frames[("C1-CHAIR", "video")] >= video + 10, 10)


async def test_audio_only_profile_stops_video_and_keeps_audio(server: Server, peer: Any) -> None:
    alice, bob = await peer("C1-001"), await peer("C1-002")
    await alice.join()
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 10, 15)
    ack = await bob.m.emit("set_receive_profile", {"profile": "audio_only"})
    assert ack == {"ok": True, "profile": {"mode": "audio_only"}}
    await assert_not_forwarded(_media(server).sfus[1], "C1-002", "C1-001", "video")
    video, audio = bob.frames[("C1-001", "video")], bob.frames[("C1-001", "audio")]
    await wait_for(lambda: bob.frames[("C1-001", "audio")] >= audio + 50, 10)
    bad = await bob.m.emit("set_receive_profile", {"profile": "everything"})
    assert bad["error"] == "invalid_input"
    await bob.m.emit("set_receive_profile", {"profile": {"mode": "last_n", "n": 2}})
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= video + 10, 10)


async def test_chair_mutes_and_spotlights_others_may_not(server: Server, peer: Any) -> None:
    chair, alice, bob = await peer("C1-CHAIR"), await peer("C1-001"), await peer("C1-002")
    await chair.join("main_room")
    await alice.join()
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "audio")] >= 20, 15)

    refused = await bob.m.emit("mute_participant", {"member_id": "C1-001", "muted": True})
    assert refused["error"] == "not_authorised"
    refused = await bob.m.emit("spotlight", {"member_id": "C1-001"})
    assert refused["error"] == "not_authorised"
    missing = await chair.m.emit("mute_participant", {"member_id": "C1-008", "muted": True})
    assert missing["error"] == "no_media_session"

    ack = await chair.m.emit("mute_participant", {"member_id": "C1-001", "muted": True})
    assert ack == {"ok": True, "member_id": "C1-001", "muted": True}
    await wait_for(lambda: {"member_id": "C1-001", "muted": True} in alice.m.seen("participant_muted"))
    await assert_not_forwarded(_media(server).sfus[1], "C1-002", "C1-001", "audio")
    audio, video = bob.frames[("C1-001", "audio")], bob.frames[("C1-001", "video")]
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= video + 15, 10)
    await chair.m.emit("mute_participant", {"member_id": "C1-001", "muted": False})
    await wait_for(lambda: bob.frames[("C1-001", "audio")] >= audio + 20, 10)

    ack = await chair.m.emit("spotlight", {"member_id": "C1-001"})
    assert ack == {"ok": True, "member_id": "C1-001"}
    for p in (chair, alice, bob):
        await wait_for(lambda p=p: {"member_id": "C1-001"} in p.m.seen("spotlight_changed"))
    assert (await chair.m.emit("spotlight", {"member_id": "NOBODY"}))["error"] == "not_found"
    await chair.m.emit("spotlight", {"member_id": None})
    await wait_for(lambda: {"member_id": None} in bob.m.seen("spotlight_changed"))

    refused = await alice.m.emit("set_main_room_camera", {"member_id": "C1-002", "main_room": True})
    assert refused["error"] == "not_authorised"
    ack = await chair.m.emit("set_main_room_camera", {"member_id": "C1-001", "main_room": True})
    assert ack["ok"]
    await wait_for(
        lambda: any(d["member_id"] == "C1-001" and d["main_room"] for d in bob.m.seen("publication_changed"))
    )
    # a remote member may not call itself the main-room camera
    carol = await peer("C1-003")
    await carol.m.join(1, "remote")
    refused = await carol.m.emit("media_open", {"main_room": True})
    assert refused["error"] == "not_authorised"


async def test_own_microphone_and_camera_switches_reach_everyone(server: Server, peer: Any) -> None:
    alice, bob = await peer("C1-001"), await peer("C1-002")
    await alice.join("main_room")
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 5, 15)
    before = await alice.m.emit("set_media_state", {"microphone": False, "camera": True})
    assert before["ok"] is True
    await wait_for(
        lambda: any(
            d["member_id"] == "C1-001" and d["mic_on"] is False and d["camera_on"] is True
            for d in bob.m.seen("publication_changed")
        )
    )
    ack = await alice.m.emit("set_media_state", {"microphone": False, "camera": False})
    assert ack == {"ok": True, "microphone": False, "camera": False}
    await wait_for(
        lambda: any(
            d["member_id"] == "C1-001" and d["camera_on"] is False for d in bob.m.seen("publication_changed")
        )
    )
    # a late joiner learns the switches from the media_open ack
    late = await peer("C1-003")
    opened = await late.join()
    mine = [p for p in opened["publications"] if p["member_id"] == "C1-001"]
    assert [(p["mic_on"], p["camera_on"]) for p in mine] == [(False, False)]
    bad = await alice.m.emit("set_media_state", {"microphone": "off", "camera": False})
    assert (bad["error"], bad["details"]["field"]) == ("invalid_input", "microphone")
    bad = await alice.m.emit("set_media_state", {"microphone": True})
    assert (bad["error"], bad["details"]["field"]) == ("invalid_input", "camera")


async def test_bad_input_gets_precise_errors_and_media_keeps_flowing(
    server: Server, peer: Any, sign_in: Any
) -> None:
    alice, bob = await peer("C1-001"), await peer("C1-002")
    await alice.join()
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 10, 15)

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(MovingVideoTrack())
    aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}

    # before join, before media_open
    mallory = await sign_in("C1-004")
    await mallory.connect()
    before_join = await mallory.emit("publish_offer", offer)
    assert before_join["error"] == "invalid_state"
    await mallory.join(1, "remote")
    before_open = await mallory.emit("publish_offer", offer)
    assert before_open["error"] == "media_not_open"
    no_session = await mallory.emit(
        "ice_candidate",
        {
            "target": "publish",
            "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
        },
    )
    assert no_session["error"] == "media_not_open"

    garbage = await bob.m.emit("publish_offer", {"sdp": "this is not sdp", "type": "offer"})
    assert garbage["error"] == "invalid_sdp"
    wrong_type = await bob.m.emit("publish_offer", {"sdp": offer["sdp"], "type": "answer"})
    assert wrong_type["error"] == "invalid_sdp"
    extra = await bob.m.emit("publish_offer", {**offer, "x": 1})
    assert extra["error"] == "invalid_input" and "'x'" in extra["message"]
    no_common = offer["sdp"].replace("VP8/90000", "AV1X/90000").replace("H264/90000", "H265X/90000")
    codec = await bob.m.emit("publish_offer", {"sdp": no_common, "type": "offer"})
    assert codec["error"] == "no_common_codec"
    # bob has a subscribe connection but the candidate line is garbage
    bad_candidate = await bob.m.emit(
        "ice_candidate", {"target": "subscribe", "candidate": {"candidate": "garbage", "sdpMid": "0"}}
    )
    assert bad_candidate["error"] == "invalid_input"
    bad_target = await bob.m.emit("ice_candidate", {"target": "both", "candidate": None})
    assert bad_target["error"] == "invalid_input"
    # no publish connection yet for mallory's media session
    await mallory.emit("media_open", {})
    unknown = await mallory.emit(
        "ice_candidate",
        {
            "target": "publish",
            "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
        },
    )
    assert unknown["error"] == "invalid_state"
    stray_answer = await mallory.emit(
        "subscribe_answer",
        {"sdp": offer["sdp"].replace("a=setup:actpass", "a=setup:active"), "type": "answer"},
    )
    assert stray_answer["error"] in ("invalid_state", "invalid_sdp")

    # a renegotiation flood: refused with rate_limited, alice's media unaffected
    codes = []
    for _ in range(14):
        flood = await bob.m.emit("publish_offer", {"sdp": "v=0 garbage", "type": "offer"})
        codes.append(flood["error"])
    assert "rate_limited" in codes or set(codes) == {"invalid_sdp"}
    real = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    real.addTrack(AudioStreamTrack())
    aiortc_hooks.announce_host_candidates(real, LOOPBACK)
    await real.setLocalDescription(await real.createOffer())
    results = []
    for _ in range(12):
        r = await bob.m.emit("publish_offer", {"sdp": real.localDescription.sdp, "type": "offer"})
        results.append(r.get("error", "ok"))
    assert "rate_limited" in results
    video = bob.frames[("C1-001", "video")]
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= video + 20, 10)
    await pc.close()
    await real.close()


async def test_operators_get_stats_and_everyone_gets_quality(server: Server, peer: Any) -> None:
    chair, alice = await peer("C1-CHAIR"), await peer("C1-001")
    await chair.join("main_room")
    await alice.join()
    await alice.publish()
    await wait_for(lambda: chair.frames[("C1-001", "video")] >= 10, 15)
    refused = await alice.m.emit("get_media_stats", {})
    assert refused["error"] == "not_authorised"
    stats = await chair.m.emit("get_media_stats", {})
    by_id = {p["participant_id"]: p for p in stats["participants"]}
    assert by_id["C1-001"]["publish"]["state"] == "connected"
    assert {t["kind"] for t in by_id["C1-001"]["publish"]["tracks"]} == {"audio", "video"}
    await wait_for(
        lambda: any(
            r["member_id"] == "C1-001" and r["bitrate_kbps"] and r["quality"] != "unknown"
            for q in chair.m.seen("media_quality")
            for r in q["participants"]
        ),
        10,
    )
    row = next(
        r
        for q in chair.m.seen("media_quality")
        for r in q["participants"]
        if r["member_id"] == "C1-001" and r["bitrate_kbps"]
    )
    assert row["quality"] == "good" and row["publish_state"] == "connected"


async def test_disconnect_closes_media_after_the_grace(server: Server, peer: Any) -> None:
    alice, bob = await peer("C1-001"), await peer("C1-002")
    await alice.join()
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 5, 15)
    assert alice.m.sio is not None
    await alice.m.sio.disconnect()
    assert _media(server).session_count == 2  # kept through the grace (1 s here)
    await wait_for(lambda: _media(server).session_count == 1, 5)
    await wait_for(
        lambda: (
            {
                "member_id": "C1-001",
                "audio": False,
                "video": False,
                "main_room": False,
                "muted": False,
                "mic_on": True,
                "camera_on": True,
            }
            in bob.m.seen("publication_changed")
        )
    )


@pytest.mark.slow
async def test_repeated_join_and_leave_frees_connections_and_tasks(
    server: Server, peer: Any, sign_in: Any
) -> None:
    cycles = int(os.environ.get("MEDIA_CYCLES", "100"))
    alice, bob = await peer("C1-001"), await peer("C1-002")
    await alice.join()
    await bob.join()
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 5, 15)
    media = _media(server)
    guest = Peer(await sign_in("C1-003"))
    baseline_tasks = baseline_rss = 0
    for n in range(cycles):
        await guest.join()
        await guest.publish(audio=True, video=n % 2 == 0)
        await wait_for(lambda: guest.frames[("C1-001", "video")] >= 1, 15)
        assert (await guest.m.emit("leave", {}))["ok"]
        await guest.close()
        guest.frames.clear()
        if n == 1:
            await wait_for(lambda: media.session_count == 2, 5)
            await asyncio.sleep(0.5)
            gc.collect()
            baseline_tasks = len(asyncio.all_tasks())
            baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    await wait_for(lambda: media.session_count == 2, 5)
    gc.collect()
    await wait_for(lambda: len(asyncio.all_tasks()) <= baseline_tasks + 3, 10)
    sfu = media.sfus[1]
    assert sorted(sfu.participant_ids) == ["C1-001", "C1-002"]
    published = await sfu.stats("C1-001")
    assert all(t["subscribers"] == 1 for t in published["publish"]["tracks"])
    # ru_maxrss is a high-water mark (KiB): it must not keep climbing with the cycles
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline_rss) / 1024
    assert growth_mb < 60, f"RSS high-water mark grew {growth_mb:.0f} MB over {cycles} cycles"
    video = bob.frames[("C1-001", "video")]
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= video + 10, 10)
    await guest.close()


def test_turn_credentials_follow_coturn_use_auth_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "turn.secret"
    secret_file.write_text("north-sea-wind\n")
    cfg = load_config(
        environ={},
        overrides={
            "media": {
                "ice_servers": [
                    "stun:stun.example.org:3478",
                    "turn:turn.example.org:3478?transport=udp",
                    "turns:turn.example.org:5349",
                ],
                "turn_secret_file": str(secret_file),
                "turn_credential_seconds": 600,
            }
        },
    )
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    servers = client_ice_servers(cfg, lambda: now)("C1-001")
    expiry = int(now.timestamp()) + 600
    expected = base64.b64encode(
        hmac.new(b"north-sea-wind", f"{expiry}:C1-001".encode(), hashlib.sha1).digest()
    ).decode()
    assert servers == [
        {"urls": "stun:stun.example.org:3478"},
        {
            "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
            "username": f"{expiry}:C1-001",
            "credential": expected,
        },
    ]
    assert turn_credentials(b"north-sea-wind", "C1-001", expiry) == (f"{expiry}:C1-001", expected)


def test_quality_classes() -> None:
    assert classify(None, None) == "unknown"
    assert classify(0.0, 0.05) == "good"
    assert classify(0.04, 0.05) == "fair"
    assert classify(0.0, 0.5) == "fair"
    assert classify(0.12, 0.05) == "poor"
    assert classify(None, 0.9) == "poor"


async def test_giving_the_floor_unmutes_the_speaker(server: Server, peer: Any) -> None:
    chair, alice, bob = await peer("C1-CHAIR"), await peer("C1-001"), await peer("C1-002")
    await chair.join("main_room")
    await alice.join()
    await bob.join()
    assert (await chair.m.call("POST", "/api/meetings/1/open"))[0] == 200
    await alice.publish()
    await wait_for(lambda: bob.frames[("C1-001", "audio")] >= 20, 15)
    await chair.m.emit("mute_participant", {"member_id": "C1-001", "muted": True})
    await wait_for(lambda: {"member_id": "C1-001", "muted": True} in alice.m.seen("participant_muted"))
    assert (await alice.m.emit("raise_hand", {}))["ok"]
    ack = await chair.m.emit("give_floor", {"member_id": "C1-001"})
    assert ack["ok"], ack
    await wait_for(lambda: {"member_id": "C1-001", "muted": False} in alice.m.seen("participant_muted"))
    audio = bob.frames[("C1-001", "audio")]
    await wait_for(lambda: bob.frames[("C1-001", "audio")] >= audio + 20, 10)


async def test_a_second_device_asks_before_taking_the_media_and_keeps_the_attendance(
    server: Server, peer: Any
) -> None:
    phone, laptop, bob = await peer("C1-001"), await peer("C1-001"), await peer("C1-002")
    await phone.join("remote", device="phone-tab")
    await bob.join()
    await phone.publish()
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= 5, 15)

    # the laptop joins "the way I already attend": still remote, not moved
    joined = await laptop.m.join(1, "main_room", keep_attendance=True)
    assert joined["ok"] and joined["me"]["attendance"] == "remote", joined
    assert not any(
        d["participant"]["attendance"] == "main_room"
        for d in bob.m.roster_changes("updated")
        if d["participant"]["member_id"] == "C1-001"
    )
    # its media_open is refused until the member says yes; the phone keeps sending
    refused = await laptop.m.emit("media_open", {"device": "laptop-tab"})
    assert refused["error"] == "media_elsewhere", refused
    video = bob.frames[("C1-001", "video")]
    await wait_for(lambda: bob.frames[("C1-001", "video")] >= video + 10, 10)
    assert not phone.m.seen("media_closed")
    # "use this device for video?" — yes: the phone is told, the laptop takes over
    taken = await laptop.m.emit("media_open", {"device": "laptop-tab", "take_over": True})
    assert taken["ok"], taken
    await wait_for(lambda: {"reason": "replaced"} in phone.m.seen("media_closed"))
    # the same tab reloading (same device id) replaces its own session without asking
    again = await laptop.m.emit("media_open", {"device": "laptop-tab"})
    assert again["ok"], again


async def test_keep_attendance_without_another_device_is_not_joined(server: Server, peer: Any) -> None:
    alice = await peer("C1-003")
    await alice.m.connect()
    refused = await alice.m.emit("join", {"meeting_id": 1, "attendance": "remote", "keep_attendance": True})
    assert refused["error"] == "not_joined"
