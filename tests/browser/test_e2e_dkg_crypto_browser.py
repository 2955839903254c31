"""The browser's threshold key generation and backup file (web/js/e2e.js, e2e-client.js)
agree with the server's (voting/e2e/dkg.py) and with docs/e2e-ballots.md §3b and §3c: a
round mixing a Python trustee and two browser trustees completes and decrypts, a bad
share is shown by the browser's complaint, and the backup file opens with Python's
``cryptography`` from the documented format alone."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from playwright.sync_api import Page

from voting.e2e import ballot as eb
from voting.e2e import dkg, group, tally

pytestmark = pytest.mark.browser

LOAD = """async () => {
  window.e2e = await import('/js/e2e.js');
  window.client = await import('/js/e2e-client.js');
  return Object.keys(window.e2e).length;
}"""
TRUSTEES = ("C1-CHAIR", "C1-SEC", "C1-001")


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    p = open_page()
    p.goto("/")
    assert p.evaluate(LOAD) > 10
    return p


def _view(r: dkg.DkgRound) -> dict[str, Any]:
    return {
        "round": r.round,
        "trustees": list(r.trustees),
        "threshold": r.threshold,
        "phase": r.phase.value,
        "failed_by": r.failed_by,
        "keys": [r.keys[t].to_dict() for t in r.trustees if t in r.keys],
        "dealings": [r.dealings[t].to_dict() for t in r.trustees if t in r.dealings],
        "confirmed": [t for t in r.trustees if t in r.confirmed],
        "complete": None,
    }


def test_a_round_of_one_python_and_two_browser_trustees_completes_and_decrypts(page: Page) -> None:
    r = dkg.DkgRound("41", 3, TRUSTEES)
    e_chair, key = dkg.make_enc_key("41", 3, "C1-CHAIR")
    r.add_key("C1-CHAIR", key)
    made = page.evaluate(
        """() => {
        window.sec = e2e.makeDkgKey('41', 3, 'C1-SEC');
        window.dep = e2e.makeDkgKey('41', 3, 'C1-001');
        return [sec.key, dep.key];
    }"""
    )
    for k in made:
        dkg.apply_step(r, k["trustee_id"], "key", k)
    r.add_dealing("C1-CHAIR", dkg.make_dealing("41", 3, "C1-CHAIR", 2, r.ordered_keys()))
    view = _view(r)
    dealings = page.evaluate(
        "(v) => [e2e.makeDealing('41', v, 'C1-SEC'), e2e.makeDealing('41', v, 'C1-001')]", view
    )
    for d in dealings:
        dkg.apply_step(r, d["dealer"], "dealing", d)
    view = _view(r)
    got = page.evaluate(
        """(v) => ['sec', 'dep'].map((w, i) => {
        const g = e2e.checkReceived('41', v, ['C1-SEC', 'C1-001'][i], window[w].secret);
        return {x: e2e.secretToHex(g.x), vk: g.verificationKey, bad: g.bad};
    })""",
        view,
    )
    x_chair, bad = r.check_received("C1-CHAIR", e_chair)
    assert bad == [] and [g["bad"] for g in got] == [[], []]
    dkg.apply_step(r, "C1-CHAIR", "confirmation", {"verification_key": group.base_mul(x_chair).hex()})
    for tid, g in zip(TRUSTEES[1:], got, strict=True):
        dkg.apply_step(r, tid, "confirmation", {"verification_key": g["vk"]})
    assert r.phase is dkg.Phase.COMPLETE
    # the secretary is away: the chair (Python) and the deputy (browser share) decrypt
    ctx = eb.PollContext("41", "9", r.public_key(), 3, 1, 1)
    ballots = [eb.encrypt_ballot(ctx, m)[0] for m in ([1, 0, 0], [0, 0, 1], [1, 0, 0])]
    sums = tally.homomorphic_sums(ctx, ballots)
    x_dep = group.decode_scalar(got[1]["x"], "x")
    parts = [
        tally.partial_decrypt(ctx, "C1-CHAIR", x_chair, sums),
        tally.partial_decrypt(ctx, "C1-001", x_dep, sums),
    ]
    indices = {t: r.index(t) for t in TRUSTEES}
    assert tally.combine(sums, parts, 3, indices) == (2, 0, 1)


def test_the_browser_complains_about_a_bad_share_and_refuses_a_forged_dealing(page: Page) -> None:
    r = dkg.DkgRound("41", 4, TRUSTEES)
    _e_chair, key = dkg.make_enc_key("41", 4, "C1-CHAIR")
    r.add_key("C1-CHAIR", key)
    _e_dep, key = dkg.make_enc_key("41", 4, "C1-001")
    r.add_key("C1-001", key)
    sec = page.evaluate("() => { window.sec = e2e.makeDkgKey('41', 4, 'C1-SEC'); return window.sec.key; }")
    dkg.apply_step(r, "C1-SEC", "key", sec)
    for t in TRUSTEES:
        d = dkg.make_dealing("41", 4, t, 2, r.ordered_keys())
        if t == "C1-001":  # the deputy's device deals the secretary a share off its polynomial
            bad = dkg.encrypt_share("41", 4, t, "C1-SEC", r.keys["C1-SEC"].key, 99, group.random_scalar)
            d = dkg.Dealing(d.dealer, d.commitments, d.proof, (d.shares[0], bad, d.shares[2]))
        r.add_dealing(t, d)
    view = _view(r)
    complaint = page.evaluate(
        """(v) => {
        const g = e2e.checkReceived('41', v, 'C1-SEC', sec.secret);
        return {bad: g.bad, complaint: e2e.makeComplaint('41', v, 'C1-SEC', sec.secret, g.bad[0])};
    }""",
        view,
    )
    assert complaint["bad"] == ["C1-001"]
    dkg.apply_step(r, "C1-SEC", "complaint", complaint["complaint"])
    assert r.failed_by == "C1-001"
    forged = json.loads(json.dumps(view))
    forged["dealings"][0]["commitments"][1] = group.base_mul(3).hex()
    refused = page.evaluate(
        "(v) => { try { e2e.checkDkgView('41', v); return null; } catch (e) { return [e.code, e.field]; } }",
        forged,
    )
    assert refused == ["invalid_dealing_proof", "C1-CHAIR"]


def test_a_trustee_device_refuses_to_confirm_a_round_where_the_server_swapped_its_key_or_dealing(
    page: Page,
) -> None:
    r = dkg.DkgRound("41", 5, TRUSTEES)
    for t in ("C1-CHAIR", "C1-001"):
        r.add_key(t, dkg.make_enc_key("41", 5, t)[1])
    sec = page.evaluate("() => { window.sec = e2e.makeDkgKey('41', 5, 'C1-SEC'); return window.sec.key; }")
    dkg.apply_step(r, "C1-SEC", "key", sec)
    for t in ("C1-CHAIR", "C1-001"):
        r.add_dealing(t, dkg.make_dealing("41", 5, t, 2, r.ordered_keys()))
    mine = page.evaluate(
        "(v) => { window.mine = e2e.makeDealing('41', v, 'C1-SEC'); return window.mine; }", _view(r)
    )
    check = """([v, local]) => {
      try { client.checkOwnSteps(v, 'C1-SEC', local); return null; } catch (e) { return [e.code, e.field]; }
    }"""
    local = {"public_share": sec["enc_key"], "dealing": mine["commitments"]}
    # a server that deals in the secretary's name: every share checks out, but the key is its own
    swapped = dkg.DkgRound("41", 5, TRUSTEES)
    for t in TRUSTEES:
        swapped.keys[t] = r.keys[t]
    for t in TRUSTEES:
        swapped.add_dealing(t, dkg.make_dealing("41", 5, t, 2, r.ordered_keys()))
    assert page.evaluate(check, [_view(swapped), local]) == ["own_step_altered", "dealing"]
    # ...or one that shows the others another encryption key for it
    other = json.loads(json.dumps(_view(swapped)))
    other["keys"][1] = dkg.make_enc_key("41", 5, "C1-SEC")[1].to_dict()
    assert page.evaluate(check, [other, local]) == ["own_step_altered", "key"]
    # the round as this device made it passes
    dkg.apply_step(r, "C1-SEC", "dealing", mine)
    assert page.evaluate(check, [_view(r), local]) is None
    assert page.evaluate(check, [_view(r), {"public_share": sec["enc_key"]}]) is None


def _aad(b: dict[str, Any]) -> bytes:
    fields = [
        b["format"],
        b["version"],
        b["meeting_id"],
        b["trustee_id"],
        b["kind"],
        b["round"] or "",
        b["public"],
    ]
    return "|".join(str(f) for f in fields).encode()


def test_the_backup_file_opens_from_its_documented_format_and_refuses_a_wrong_passphrase(page: Page) -> None:
    secret = group.random_scalar()
    public = group.base_mul(secret).hex()
    what = {
        "meetingId": "41",
        "trusteeId": "C1-001",
        "kind": "dkg",
        "round": 2,
        "secret": group.scalar_hex(secret),
        "public": public,
    }
    out = page.evaluate(
        """async (what) => {
        const b = await client.makeBackup(what, 'correct horse battery');
        const codes = [];
        for (const [text, pass] of [[JSON.stringify(b), 'wrong passphrase!!'],
                                    [JSON.stringify({...b, trustee_id: 'C1-002'}), 'correct horse battery'],
                                    ['{"format": "other"}', 'correct horse battery']]) {
          try { await client.openBackup(text, pass); codes.push('opened'); } catch (e) { codes.push(e.code); }
        }
        try { await client.makeBackup(what, 'short'); } catch (e) { codes.push(e.code); }
        const opened = await client.openBackup(JSON.stringify(b), 'correct horse battery');
        return {b, codes, secret: opened.secret};
    }""",
        what,
    )
    b = out["b"]
    assert out["codes"] == ["backup_invalid", "backup_invalid", "backup_invalid", "backup_short"]
    assert out["secret"] == what["secret"]
    assert b["kdf"] == {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": b["kdf"]["salt"]}
    # an independent reader of docs/e2e-ballots.md §3c
    salt, iv = base64.b64decode(b["kdf"]["salt"]), base64.b64decode(b["cipher"]["iv"])
    assert len(salt) == 16 and len(iv) == 12
    key = hashlib.pbkdf2_hmac("sha256", b"correct horse battery", salt, 600000, 32)
    plain = AESGCM(key).decrypt(iv, base64.b64decode(b["ciphertext"]), _aad(b)).decode()
    assert plain == what["secret"] and group.base_mul(group.decode_scalar(plain, "x")).hex() == public
