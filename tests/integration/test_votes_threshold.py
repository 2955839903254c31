"""Threshold trustees over real Socket.IO: the chair names a deputy, the three trustees'
devices run the key generation, any two of them decrypt while the third is away, a bad
share or proof is refused naming the trustee, and the minutes re-check offline."""

from __future__ import annotations

import json
from typing import Any

from meetingd.verify_cli import entry_checks
from recorder.verifier import verify_bundle
from voting.e2e import group, tally
from voting.e2e.record import e2e_findings

from .conftest import Member
from .e2e_helpers import DkgTrustee, encrypt, marks_for, poll_context, run_key_generation
from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen

SECRET = {**MOTION, "kind": "secret"}


async def _three(sign_in: Any) -> tuple[Member, list[Member], list[DkgTrustee]]:
    chair, members = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    assert (await sec.join())["ok"]
    named = await chair.emit("name_deputy_trustee", {"member_id": members[0].member_id})
    assert named["ok"] and named["dkg"]["trustees"] == ["C1-CHAIR", "C1-SEC", "C1-001"], named
    return chair, members, [DkgTrustee(chair), DkgTrustee(sec), DkgTrustee(members[0])]


async def test_two_of_three_trustees_decrypt_while_the_secretary_is_away(sign_in, server) -> None:
    chair, members, trustees = await _three(sign_in)
    refused = await chair.emit("create_poll", {"config": SECRET})
    early = await chair.emit("open_poll", {"poll_id": refused["poll"]["poll_id"]})
    assert early["error"] == "e2e_key_incomplete", early
    done = await run_key_generation(trustees)
    assert done["dkg"]["phase"] == "complete", done
    complete = done["dkg"]["complete"]
    assert complete["threshold"] == 2 and [t["index"] for t in complete["trustees"]] == [1, 2, 3]
    progress = await seen(members[3], "e2e_dkg_progress", lambda d: d["phase"] == "complete")
    assert progress["waiting_for"] == []
    state = await members[2].emit("get_e2e", {})
    assert state["public_key"] == complete["public_key"] and state["threshold"] == 2
    assert {t["trustee_id"]: t["role"] for t in state["trustees"]}["C1-001"] == "deputy"

    poll_id = await open_poll(chair, SECRET)
    ctx = await poll_context(members[1], poll_id)
    assert ctx.public_key.hex() == complete["public_key"]
    for i, m in enumerate(members):
        ack = await m.emit(
            "cast_encrypted_ballot",
            {"poll_id": poll_id, "ballot_id": ballot_id(), "ballot": encrypt(ctx, marks_for(i % 2))},
        )
        assert ack["ok"], ack
    await chair.emit("close_poll", {"poll_id": poll_id})
    published = await seen(chair, "e2e_board_published", lambda d: d["poll_id"] == poll_id)
    assert published["waiting_for"] == ["C1-001", "C1-CHAIR", "C1-SEC"]
    chair_t, _sec_t, deputy_t = trustees  # the secretary's phone died: it never decrypts
    # a partial decryption with the deputy's name and the chair's share is refused, recorded
    bad = await _decrypt_with(deputy_t.member, chair_t.share, poll_id)
    assert bad["error"] == "invalid_decryption_proof", bad
    ack = await chair_t.decrypt(poll_id)
    assert ack["ok"] and ack["result"] is None and ack["waiting_for"] == ["C1-001", "C1-SEC"], ack
    ack = await deputy_t.decrypt(poll_id)
    assert ack["ok"] and ack["waiting_for"] == [], ack
    result = await seen(members[4], "poll_result", lambda d: d["poll_id"] == poll_id)
    assert result["e2e"] == {"counts": [3, 3, 0], "counted": 6, "decrypted_by": ["C1-001", "C1-CHAIR"]}

    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    bundle, _warnings = await server.svc.minutes.export(1)
    text = bundle.to_json()
    report = verify_bundle(text, checks=entry_checks())
    assert report.ok, report.summary()
    entries = [json.loads(e) if isinstance(e, str) else e for e in json.loads(text)["entries"]]
    kinds = [e["type"] for e in entries]
    assert kinds.count("e2e_dkg_key") == 3 and kinds.count("e2e_dkg_dealing") == 3
    assert kinds.count("e2e_dkg_complete") == 1 and "e2e_partial_decryption_refused" in kinds
    assert list(e2e_findings(entries)) == []
    # a tampered partial decryption (the deputy's first factor) is caught offline
    altered = json.loads(json.dumps(entries))
    part = next(
        e
        for e in altered
        if e["type"] == "e2e_partial_decryption" and e["decryption"]["trustee_id"] == "C1-001"
    )
    part["decryption"]["factors"][0] = group.base_mul(5).hex()
    found = [f.message for f in e2e_findings(altered)]
    assert any("invalid_decryption_proof" in m or "does not verify" in m for m in found), found
    # and so is a dealing whose commitment was changed after the fact
    altered = json.loads(json.dumps(entries))
    dealing = next(e for e in altered if e["type"] == "e2e_dkg_dealing")
    dealing["dealing"]["commitments"][1] = group.base_mul(9).hex()
    found = [f.message for f in e2e_findings(altered)]
    assert any("e2e_dkg_dealing from C1-CHAIR" in m and "invalid_dealing_proof" in m for m in found), found
    assert "the poll key names key generation round 1, not complete" in found


async def _decrypt_with(member: Member, secret: int, poll_id: int) -> dict[str, Any]:
    state = await member.emit("get_e2e", {"poll_id": poll_id, "board": True})
    from voting.e2e.record import context_from_dict

    ctx = context_from_dict(state["poll"]["context"])
    sums = tuple(tally.Ciphertext.from_dict(c, "sums", allow_identity=True) for c in state["sums"])
    part = tally.partial_decrypt(ctx, member.member_id, secret, sums)
    return await member.emit("post_partial_decryption", {"poll_id": poll_id, "decryption": part.to_dict()})


async def test_a_bad_share_fails_the_round_naming_the_dealer_and_the_chair_starts_another(
    sign_in, server
) -> None:
    chair, members, trustees = await _three(sign_in)
    chair_t, sec_t, deputy_t = trustees
    stranger = DkgTrustee(members[1])
    for t in trustees:
        assert (await t.post_key())["ok"]
    dup = await chair_t.post_key()
    assert dup["error"] == "trustee_key_exists", dup
    outsider = await stranger.step(await stranger.round(), "key", {"x": 1})
    assert outsider["error"] == "invalid_input", outsider
    r = await chair_t.round()
    outsider = await stranger.member.emit("post_dkg_step", {"round": r.round, "step": "dealing", "data": {}})
    assert outsider["error"] in ("invalid_input", "not_a_trustee"), outsider
    assert (await chair_t.deal())["ok"]
    assert (await sec_t.deal())["ok"]
    assert (await deputy_t.deal(bad_share_for="C1-SEC"))["ok"]
    # the chair's shares are fine: a complaint by the chair against the secretary is refused
    from voting.e2e import dkg

    r = await chair_t.round()
    unfounded = dkg.make_complaint("1", r.round, "C1-CHAIR", chair_t.enc_secret, r.dealings["C1-SEC"])
    no = await chair_t.step(r, "complaint", unfounded.to_dict())
    assert no["error"] == "complaint_unfounded" and "C1-SEC" in no["message"], no
    assert (await chair_t.confirm())["ok"]
    upheld = await sec_t.confirm()  # the secretary's device finds the deputy's bad share
    assert upheld["ok"] and upheld["dkg"]["phase"] == "failed" and upheld["dkg"]["failed_by"] == "C1-001"
    failed = await seen(chair, "e2e_dkg_progress", lambda d: d["phase"] == "failed")
    assert failed["failed_by"] == "C1-001"
    late = await deputy_t.confirm()
    assert late["error"] == "key_generation_failed" and "C1-001" in late["message"], late
    created = await chair.emit("create_poll", {"config": SECRET})
    refused = await chair.emit("open_poll", {"poll_id": created["poll"]["poll_id"]})
    assert refused["error"] == "e2e_key_incomplete"
    # only the chair names the deputy, and only a voting member
    assert (await members[2].emit("name_deputy_trustee", {"member_id": "C1-003"}))[
        "error"
    ] == "not_authorised"
    bad = await chair.emit("name_deputy_trustee", {"member_id": "C1-SEC"})
    assert bad["error"] == "not_eligible_trustee", bad
    # a new round with the same deputy (its device fixed) completes
    again = await chair.emit("name_deputy_trustee", {"member_id": "C1-001"})
    assert again["ok"] and again["dkg"]["round"] == 2 and again["dkg"]["phase"] == "keys"
    assert (await run_key_generation(trustees))["dkg"]["phase"] == "complete"
    await open_poll(chair, SECRET)

    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    bundle, _warnings = await server.svc.minutes.export(1)
    entries = [json.loads(e) if isinstance(e, str) else e for e in json.loads(bundle.to_json())["entries"]]
    assert list(e2e_findings(entries)) == []
    complaint = next(e for e in entries if e["type"] == "e2e_dkg_complaint")
    assert complaint["complaint"]["against"] == "C1-001" and complaint["round"] == 1
    refusals = [(e["step"], e["error"], e["trustee"]) for e in entries if e["type"] == "e2e_dkg_refused"]
    assert ("complaint", "complaint_unfounded", "C1-CHAIR") in refusals
    assert ("key", "trustee_key_exists", None) in refusals
