"""The officer-trustees vouch for the poll key over real Socket.IO: each signs the key
statement on its own device with its enrolled cosigning key; the server checks it,
keeps it once, writes it to the minutes and lists it for voters' devices; every bad
statement gets its code; `meetingd verify`'s check catches an altered one."""

from __future__ import annotations

import base64
import copy
import json
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meetingd.verify_cli import STATEMENT_TYPES, entry_checks, key_statement_findings
from recorder.cosignature import Cosigner
from voting.e2e.statement import statement_text

from .conftest import Member
from .e2e_helpers import Trustee
from .procedure_helpers import open_poll, quorate_meeting
from .test_votes_encrypted import SECRET


class OfficerDevice:
    """An officer's own device: its cosigning key never leaves it."""

    def __init__(self, member: Member) -> None:
        self.member = member
        self.private = Ed25519PrivateKey.generate()
        self.cosigner = Cosigner(f"meetingd.local/minutes/member/{member.member_id}", self.private)

    async def enrol(self) -> None:
        status, body = await self.member.call(
            "POST", "/api/me/keys", {"verifier_key": self.cosigner.verifier_key.encode()}
        )
        assert status == 201, body

    def sign(self, text: str) -> str:
        return base64.b64encode(self.private.sign(text.encode())).decode()


def _statement(state: dict[str, Any]) -> str:
    shares = {t["trustee_id"]: bytes.fromhex(t["key"]["public_share"]) for t in state["trustees"]}
    return statement_text("1", bytes.fromhex(state["public_key"]), shares)


async def test_officer_trustees_vouch_for_the_poll_key_and_bad_statements_get_codes(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    assert (await sec.join())["ok"]
    t_chair, t_sec = Trustee(chair), Trustee(sec)
    d_chair, d_sec = OfficerDevice(chair), OfficerDevice(sec)
    # before the key is complete there is nothing to vouch for
    assert (await t_chair.post_key())["ok"]
    ack = await chair.emit("post_key_statement", {"public_key": "0" * 64, "signature": "A" * 88})
    assert ack["error"] == "e2e_key_incomplete", ack
    state = await t_sec.post_key()
    assert state["public_key"] and state["statements"] == []
    text = _statement(state)
    pk = state["public_key"]
    # no cosigning key enrolled yet
    ack = await chair.emit("post_key_statement", {"public_key": pk, "signature": d_chair.sign(text)})
    assert ack["error"] == "no_officer_key", ack
    await d_chair.enrol()
    await d_sec.enrol()
    # a member is no trustee; another key; another officer's signature; a key that moved on
    ack = await members[0].emit("post_key_statement", {"public_key": pk, "signature": d_chair.sign(text)})
    assert ack["error"] == "not_authorised", ack
    ack = await chair.emit("post_key_statement", {"public_key": pk, "signature": d_sec.sign(text)})
    assert ack["error"] == "invalid_statement_signature" and "signature" in ack["message"], ack
    other = text.replace(f"public_key {pk}", "public_key " + "1" * 64)
    ack = await chair.emit("post_key_statement", {"public_key": pk, "signature": d_chair.sign(other)})
    assert ack["error"] == "invalid_statement_signature", ack
    ack = await chair.emit("post_key_statement", {"public_key": "1" * 64, "signature": d_chair.sign(text)})
    assert ack["error"] == "poll_key_changed", ack
    ack = await chair.emit("post_key_statement", {"public_key": pk, "signature": "not base64!" * 8})
    assert ack["error"] == "invalid_input" and "signature" in ack["message"], ack
    ack = await chair.emit("post_key_statement", {"public_key": pk})
    assert ack["error"] == "invalid_input", ack

    ack = await chair.emit("post_key_statement", {"public_key": pk, "signature": d_chair.sign(text)})
    assert ack["ok"] and ack["statement"]["statement"] == text, ack
    again = await chair.emit("post_key_statement", {"public_key": pk, "signature": d_chair.sign(text)})
    assert again["ok"] and again["duplicate"] is True
    assert (await sec.emit("post_key_statement", {"public_key": pk, "signature": d_sec.sign(text)}))["ok"]
    seen = await members[1].emit("get_e2e", {})
    assert [s["trustee_id"] for s in seen["statements"]] == ["C1-CHAIR", "C1-SEC"]
    assert seen["statements"][1]["verifier_key"] == d_sec.cosigner.verifier_key.encode()
    # a voter asking about a poll gets the statements of the key that poll encrypts under
    poll_id = await open_poll(chair, SECRET)
    for_poll = await members[1].emit("get_e2e", {"poll_id": poll_id})
    assert for_poll["poll"]["context"]["public_key"] == pk
    assert [s["trustee_id"] for s in for_poll["statements"]] == ["C1-CHAIR", "C1-SEC"]

    # the minutes hold both; the offline check passes them and catches any change
    log = await server.svc.journal.log(1)
    parsed = [json.loads(raw) for raw in log.entries]
    entries = [e for e in parsed if e["type"] in ("e2e_trustee_key", "e2e_key_statement")]
    assert [e["type"] for e in entries].count("e2e_key_statement") == 2
    assert list(key_statement_findings(entries)) == []
    # a statement validly signed, of the real shares but of a key they do not add up to
    shares = {t["trustee_id"]: bytes.fromhex(t["key"]["public_share"]) for t in state["trustees"]}
    evil = statement_text(
        "1", bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"), shares
    )
    forged = copy.deepcopy(entries)
    i = next(i for i, e in enumerate(forged) if e["type"] == "e2e_key_statement")
    forged[i].update(
        statement=evil, public_key=evil.split("\n")[2].split(" ")[1], signature=d_chair.sign(evil)
    )
    assert [f.message for f in key_statement_findings(forged)] == [
        "C1-CHAIR's key statement names a key its shares do not give"
    ]
    for field, value in (
        ("signature", d_chair.sign(text + "x")),
        ("verifier_key", d_sec.cosigner.verifier_key.encode()),
        ("statement", text.replace("meeting 1", "meeting 2")),
        ("public_key", "1" * 64),
    ):
        bad = copy.deepcopy(entries)
        i = next(i for i, e in enumerate(bad) if e["type"] == "e2e_key_statement")
        bad[i][field] = value
        assert [f.location for f in key_statement_findings(bad)] == [f"entries[{i}]"], field

    # a server that enrolled a key of its own for the chair signs the chair's statement with
    # it: the log alone cannot tell, the trust policy's pinned officer keys do
    rogue = OfficerDevice(chair)
    swapped = copy.deepcopy(entries)
    i = next(i for i, e in enumerate(swapped) if e["trustee_id"] == "C1-CHAIR" and "signature" in e)
    swapped[i].update(verifier_key=rogue.cosigner.verifier_key.encode(), signature=rogue.sign(text))
    assert list(key_statement_findings(swapped)) == []
    pinned = (d_chair.cosigner.verifier_key, d_sec.cosigner.verifier_key)
    assert list(key_statement_findings(entries, pinned)) == []
    assert [f.message.split(",")[0] for f in key_statement_findings(swapped, pinned)] == [
        f"C1-CHAIR's key statement is signed by {rogue.cosigner.verifier_key.encode()}"
    ]
    # a member the policy pins no key for (a deputy) is checked against the log's key only
    assert list(key_statement_findings(swapped, (d_sec.cosigner.verifier_key,))) == []
    # `meetingd verify --trust` runs the check with the policy's officer keys
    policy = SimpleNamespace(officers=(("chair", d_chair.cosigner.verifier_key),))
    (check,) = [c for c in entry_checks(policy) if c.types == STATEMENT_TYPES]
    assert "pinned" in check.name and len(list(check.check(swapped))) == 1
    (unpinned,) = [c for c in entry_checks() if c.types == STATEMENT_TYPES]
    assert list(unpinned.check(swapped)) == []
