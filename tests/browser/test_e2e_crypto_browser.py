"""The browser's ballot cryptography (web/js/e2e.js, @noble/curves served by meetingd)
and the server's (voting/e2e, libsodium) agree: a ballot made in headless Chromium
verifies in Python, and one made in Python verifies in the browser code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from voting.e2e import ballot as eb
from voting.e2e import group, keys, tally

LOAD = "async () => { window.e2e = await import('/js/e2e.js'); return Object.keys(window.e2e).length; }"


@pytest.fixture
def e2e_page(open_page: Callable[..., Page]) -> Page:
    page = open_page()
    page.goto("/")
    assert page.evaluate(LOAD) > 10
    return page


def _ctx_dict(ctx: eb.PollContext) -> dict[str, Any]:
    d = ctx.to_dict()
    del d["version"]
    return d


def test_the_browser_matches_the_rfc_generator_and_refuses_bad_points(e2e_page: Page) -> None:
    out = e2e_page.evaluate(
        """() => {
        const codes = [];
        for (const t of ['00'.repeat(32), 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
                         'E2F2AE0A6ABC4E71A884A961C500515F58E30B6AA582DD8DB6A65945E08D2D76']) {
          try { e2e.decodePoint(t, 'p'); codes.push('accepted'); } catch (e) { codes.push(e.code); }
        }
        try { e2e.decodeScalar('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 's'); }
        catch (e) { codes.push(e.code); }
        return {codes, g: e2e.decodePoint(
          'e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76', 'g').toHex()};
    }"""
    )
    assert out["codes"] == [
        "identity_point",
        "non_canonical_point",
        "non_canonical_point",
        "scalar_out_of_range",
    ]
    assert out["g"] == group.GENERATOR.hex()


def test_a_ballot_made_in_chromium_verifies_and_decrypts_in_python(e2e_page: Page) -> None:
    made = e2e_page.evaluate(
        """() => {
        const a = e2e.makeTrusteeKey('41', 'chair'), b = e2e.makeTrusteeKey('41', 'secretary');
        const y = e2e.jointKey([a.key.public_share, b.key.public_share]);
        const d = {meeting_id: '41', poll_id: '9', public_key: y, n_options: 10, min_marks: 0, max_marks: 3};
        const ctx = e2e.pollContext(d);
        const ballots = [[1,0,0,1,0,0,0,0,0,1], [0,0,0,0,0,0,0,0,0,0], [1,1,0,0,0,0,0,0,0,0]]
          .map((m) => e2e.encryptBallot(ctx, m));
        return {keys: [a.key, b.key], secrets: [e2e.secretToHex(a.secret), e2e.secretToHex(b.secret)],
                y, ballots};
    }"""
    )
    trustees = [keys.TrusteeKey.from_dict(k) for k in made["keys"]]
    for k in trustees:
        keys.verify_trustee_key("41", k)
    y = keys.joint_key(trustees)
    assert y.hex() == made["y"]
    ctx = eb.PollContext("41", "9", y, 10, 0, 3)
    parsed = []
    for item in made["ballots"]:
        b = eb.EncryptedBallot.from_dict(item["ballot"])
        eb.verify_ballot(ctx, b)
        assert b.tracker() == item["tracker"]
        parsed.append(b)
    assert eb.audit_ballot(ctx, parsed[0], made["ballots"][0]["randomness"]) == (1, 0, 0, 1, 0, 0, 0, 0, 0, 1)
    sums = tally.homomorphic_sums(ctx, parsed)
    xs = [group.decode_scalar(s, "x") for s in made["secrets"]]
    parts = [tally.partial_decrypt(ctx, k.trustee_id, x, sums) for k, x in zip(trustees, xs, strict=True)]
    assert tally.combine(sums, parts, 3) == (2, 1, 0, 1, 0, 0, 0, 0, 0, 1)


def test_a_ballot_made_in_python_verifies_in_the_browser_and_tampering_is_caught(e2e_page: Page) -> None:
    x1, k1 = keys.make_trustee_key("41", "chair")
    x2, k2 = keys.make_trustee_key("41", "secretary")
    ctx = eb.PollContext("41", "7", keys.joint_key([k1, k2]), 3, 1, 1)
    ballots = [eb.encrypt_ballot(ctx, m)[0] for m in ([1, 0, 0], [0, 0, 1], [1, 0, 0])]
    sums = tally.homomorphic_sums(ctx, ballots)
    part = tally.partial_decrypt(ctx, "chair", x1, sums)
    tampered = ballots[0].to_dict()
    tampered["ciphertexts"][0], tampered["ciphertexts"][1] = (
        tampered["ciphertexts"][1],
        tampered["ciphertexts"][0],
    )
    out = e2e_page.evaluate(
        """([d, keysIn, ballots, tampered, part, sx2]) => {
        const ctx = e2e.pollContext(d);
        keysIn.forEach((k) => e2e.verifyTrusteeKey(d.meeting_id, k));
        const trackers = ballots.map((b) => { e2e.verifyBallot(ctx, b); return e2e.trackerOf(b); });
        let code = null;
        try { e2e.verifyBallot(ctx, tampered); } catch (e) { code = e.code; }
        let other = null;
        const ctx8 = e2e.pollContext({...d, poll_id: '8'});
        try { e2e.verifyBallot(ctx8, ballots[0]); } catch (e) { other = e.code; }
        const sums = e2e.homomorphicSums(ctx, ballots);
        e2e.verifyPartial(ctx, keysIn[0].public_share, sums, part);
        let badPart = null;
        try { e2e.verifyPartial(ctx, keysIn[1].public_share, sums, part); } catch (e) { badPart = e.code; }
        const mine = e2e.partialDecrypt(ctx, 'secretary', e2e.secretFromHex(sx2), sums);
        return {trackers, code, other, badPart, sums: e2e.sumsToWire(sums), mine};
    }""",
        [
            _ctx_dict(ctx),
            [k1.to_dict(), k2.to_dict()],
            [b.to_dict() for b in ballots],
            tampered,
            part.to_dict(),
            group.scalar_hex(x2),
        ],
    )
    assert out["trackers"] == [b.tracker() for b in ballots]
    assert out["code"] == "invalid_proof"
    assert out["other"] == "ballot_for_another_poll"
    assert out["badPart"] == "invalid_decryption_proof"
    assert out["sums"] == [s.to_dict() for s in sums]
    mine = tally.PartialDecryption.from_dict(out["mine"])
    tally.verify_partial(ctx, k2.share, sums, mine)
    assert tally.combine(sums, [part, mine], 3) == (2, 0, 1)
    del x1


def test_the_browser_follows_a_python_board_and_refuses_a_closed_board_that_differs(
    e2e_page: Page,
) -> None:
    from datetime import UTC, datetime, timedelta

    from voting import BallotKind, Poll, PollConfig
    from voting.e2e.board import LIVE_CHUNK, EncryptedBox, verify_cast

    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    _, k1 = keys.make_trustee_key("41", "chair")
    _, k2 = keys.make_trustee_key("41", "secretary")
    poll = Poll("9", PollConfig.motion("Adopt?", kind=BallotKind.SECRET))
    poll.open(t0, quorate=True)
    ctx = eb.PollContext("41", "9", keys.joint_key([k1, k2]), 3, 1, 1)
    box = EncryptedBox(poll, ctx, {"chair": k1.share, "secretary": k2.share})
    for i in range(LIVE_CHUNK + 3):
        b, _ = eb.encrypt_ballot(ctx, [int(j == i % 3) for j in range(3)])
        box.cast(f"m{i}", f"b{i:019d}", verify_cast(ctx, b.to_dict()), t0, True)
    entries, nxt = box.live_board(0)
    poll.close(t0 + timedelta(minutes=1))
    board = [e.to_dict() for e in box.board()]
    sums = tally.sums_to_list(box.sums())
    other, _ = eb.encrypt_ballot(ctx, [1, 0, 0])
    altered = [dict(e) for e in board]
    altered[5] = {**altered[5], "ballot": other.to_dict()}
    out = e2e_page.evaluate(
        """async ([ctx, entries, nxt, board, sums, altered]) => {
        const { BoardFollower } = await import('/js/e2e-client.js');
        const f = new BoardFollower(e2e.pollContext(ctx));
        const fresh = await f.takeLive(entries, nxt);
        const again = await f.takeLive(entries, nxt);
        const seen = [];
        const mine = await f.closedSums(board, sums, (done, total) => seen.push([done, total]));
        let refused = null;
        try { await new BoardFollower(e2e.pollContext(ctx)).closedSums(altered, sums, () => {}); }
        catch (e) { refused = e.code; }
        let refusedAfterFollowing = null;
        try { await f.closedSums(altered, sums, () => {}); } catch (e) { refusedAfterFollowing = e.code; }
        return {fresh, again, liveFrom: f.liveFrom, checked: f.checked.size, sums: e2e.sumsToWire(mine),
                last: seen[seen.length - 1], refused, refusedAfterFollowing};
    }""",
        [_ctx_dict(ctx), entries, nxt, board, sums, altered],
    )
    assert (out["fresh"], out["again"], out["liveFrom"]) == (LIVE_CHUNK, 0, LIVE_CHUNK)
    assert out["checked"] == LIVE_CHUNK + 3 and out["sums"] == sums
    assert out["last"] == [LIVE_CHUNK + 3, LIVE_CHUNK + 3]
    assert out["refused"] == "tracker_mismatch" and out["refusedAfterFollowing"] == "tracker_mismatch"


def test_a_voters_browser_checks_the_poll_key_against_statements_signed_in_python(e2e_page: Page) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from recorder.cosignature import Cosigner
    from voting.e2e.statement import statement_text

    _, k1 = keys.make_trustee_key("41", "C1-CHAIR")
    _, k2 = keys.make_trustee_key("41", "C1-SEC")
    y = keys.joint_key([k1, k2])
    text = statement_text("41", y, {"C1-CHAIR": k1.share, "C1-SEC": k2.share})
    officers = {}
    for who in ("C1-CHAIR", "C1-SEC"):
        private = Ed25519PrivateKey.generate()
        while "+" not in Cosigner("n", private).verifier_key.encode().split("+", 2)[2]:
            private = Ed25519PrivateKey.generate()  # a key whose base64 holds "+" (seen to break parsing)
        officers[who] = {
            "trustee_id": who,
            "public_key": y.hex(),
            "statement": text,
            "signature": base64.b64encode(private.sign(text.encode())).decode(),
            "verifier_key": Cosigner(f"meetingd.local/minutes/member/{who}", private).verifier_key.encode(),
        }
    trustees = [
        {"trustee_id": "C1-CHAIR", "role": "chair", "key": k1.to_dict()},
        {"trustee_id": "C1-SEC", "role": "secretary", "key": k2.to_dict()},
    ]
    forged = {**officers["C1-SEC"], "statement": text.replace(y.hex(), "1" * 64)}
    swapped = {**officers["C1-SEC"], "verifier_key": officers["C1-CHAIR"]["verifier_key"]}
    other = Ed25519PrivateKey.generate()
    rekeyed = {
        **officers["C1-SEC"],
        "signature": base64.b64encode(other.sign(text.encode())).decode(),
        "verifier_key": Cosigner("meetingd.local/minutes/member/C1-SEC", other).verifier_key.encode(),
    }
    out = e2e_page.evaluate(
        """async ([ctx, trustees, good, forged, swapped, rekeyed]) => {
        const c = await import('/js/e2e-client.js');
        const check = (statements, ts = trustees, mid = '41') =>
          c.checkPollKey(ctx, {trustees: ts, statements, public_key: ctx.public_key}, mid);
        const text = c.statementText(ctx.meeting_id, ctx.public_key,
          Object.fromEntries(trustees.map((t) => [t.trustee_id, t.key.public_share])));
        const missing = await check([good[0]]);          // the secretary never seen vouching here
        const ok = await check(good);                     // both pinned now
        const silent = await check([good[0]]);           // a pinned officer's statement withheld
        const bad = await check([good[0], forged]);
        const notHers = await check([good[0], swapped]);
        const changed = await check([good[0], rekeyed]);  // a valid statement under a new key
        const relabelled = await check(good, trustees.map((t) => ({...t, role: 'deputy'})));
        const elsewhere = await check(good, trustees, '42');  // the page joined meeting 42
        return {text, missing, ok, silent, bad, notHers, changed, relabelled, elsewhere};
    }""",
        [
            {"meeting_id": "41", "public_key": y.hex()},
            trustees,
            [officers["C1-CHAIR"], officers["C1-SEC"]],
            forged,
            swapped,
            rekeyed,
        ],
    )
    assert out["text"] == text  # the browser builds the same bytes the officers sign
    assert out["missing"]["state"] == "missing" and out["missing"]["missing"] == ["C1-SEC"]
    assert out["ok"]["state"] == "ok" and out["ok"]["vouched"] == ["C1-CHAIR", "C1-SEC"]
    assert out["ok"]["changed"] == [] and len(out["ok"]["fingerprints"]["C1-SEC"]) == 19  # 16 digits
    assert out["silent"]["state"] == "bad" and out["silent"]["bad"] == ["C1-SEC"]
    assert out["bad"]["state"] == "bad" and out["bad"]["bad"] == ["C1-SEC"]
    assert out["notHers"]["state"] == "bad" and out["notHers"]["bad"] == ["C1-SEC"]
    assert out["changed"]["state"] == "ok" and out["changed"]["changed"] == ["C1-SEC"]
    assert out["relabelled"]["state"] == "bad" and out["elsewhere"]["state"] == "bad"


def test_an_officers_browser_refuses_to_vouch_for_a_key_its_shares_do_not_give(e2e_page: Page) -> None:
    out = e2e_page.evaluate(
        """async () => {
        const c = await import('/js/e2e-client.js');
        const a = e2e.makeTrusteeKey('43', 'C1-CHAIR'), b = e2e.makeTrusteeKey('43', 'C1-SEC');
        const mine = {secret: e2e.secretToHex(a.secret), public_share: a.key.public_share};
        await c.saveShare(43, 'C1-CHAIR', mine);
        const y = e2e.jointKey([a.key.public_share, b.key.public_share]);
        const state = (pk, bKey = b.key) => ({public_key: pk, dkg: null, threshold: null, trustees: [
          {trustee_id: 'C1-CHAIR', role: 'chair', key: a.key},
          {trustee_id: 'C1-SEC', role: 'secretary', key: bKey}]});
        const code = async (s) => {
          try { await c.checkedKey('43', 'C1-CHAIR', s); return 'signed'; } catch (e) { return e.code; }
        };
        const good = await c.checkedKey('43', 'C1-CHAIR', state(y));
        const evil = e2e.makeTrusteeKey('43', 'X').key.public_share;
        return {good: good && good.publicKey === y, wrongKey: await code(state(evil)),
                badProof: await code(state(y, {...b.key, proof: a.key.proof}))};
    }"""
    )
    assert out == {"good": True, "wrongKey": "key_mismatch", "badProof": "invalid_key_proof"}


def test_the_browsers_follower_refuses_entries_without_ballots_and_another_polls_context(
    e2e_page: Page,
) -> None:
    out = e2e_page.evaluate(
        """async () => {
        const c = await import('/js/e2e-client.js');
        const a = e2e.makeTrusteeKey('41', 'chair');
        const ctx = {meeting_id: '41', poll_id: '9', public_key: a.key.public_share,
                     n_options: 3, min_marks: 1, max_marks: 1};
        const f = new c.BoardFollower(e2e.pollContext(ctx));
        const code = async (p) => { try { await p; return 'accepted'; } catch (e) { return e.code; } };
        const device = new c.TrusteeDevice({meetingId: 41}, 'chair');
        device.follower(9, ctx);
        return {
          noBallot: await code(f.closedSums([{tracker: 'ab'.repeat(32), superseded: true}], [], () => {})),
          otherPoll: await code(Promise.resolve().then(() => device.follower(9, {...ctx, poll_id: '8'}))),
          changed: await code(Promise.resolve().then(() => device.follower(9, {...ctx, max_marks: 2}))),
          same: await code(Promise.resolve().then(() => device.follower(9, {...ctx}))),
        };
    }"""
    )
    assert out == {
        "noBallot": "invalid_input",
        "otherPoll": "context_mismatch",
        "changed": "context_mismatch",
        "same": "accepted",
    }
