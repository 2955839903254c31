"""verify_bundle: a clean, sealed, fully cosigned bundle verifies against its policy; any
tampering, any incomplete record and any fork is found and located."""

from __future__ import annotations

import ast
import base64
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.bundle import Bundle
from recorder.cosignature import Cosigner
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer, parse_signed_note
from recorder.policy import TrustPolicy
from recorder.verifier import EntryCheck, Finding, verify_bundle, verify_tlog_proof

ORIGIN = "meetingd.example/minutes/m1"
SIGNER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
CHAIR = Cosigner("meetingd.example/chair", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
SECRETARY = Cosigner("meetingd.example/secretary", Ed25519PrivateKey.from_private_bytes(b"\x03" * 32))
ROLES = {"chair": CHAIR.verifier_key, "secretary": SECRETARY.verifier_key}
WITNESS = Cosigner("witness.example/w1", Ed25519PrivateKey.from_private_bytes(b"\x04" * 32))
POLICY = TrustPolicy(SIGNER.verifier_key, tuple(ROLES.items()), (WITNESS.verifier_key,), 1)
AT = "2025-11-26T13:20:00Z"


def sealed_log(n: int, every: int = 3, text: str = "item", *, seal: bool = True) -> MinutesLog:
    """``n`` note entries, then meeting_closed and minutes_rendered (when ``seal``)."""
    log = MinutesLog(ORIGIN)
    for i in range(n):
        log.append({"type": "note", "seq": i, "at": AT, "text": f"{text} {i}"})
        if i % every == every - 1:
            log.checkpoint(SIGNER)
    if seal:
        log.append({"type": "meeting_closed", "seq": n, "at": AT})
        log.append(
            {
                "type": "minutes_rendered",
                "seq": n + 1,
                "at": AT,
                "covers": n + 1,
                "lang": "en",
                "sha256": "0" * 64,
            }
        )
    return log


def cosign_last(log: MinutesLog, *signers: Cosigner) -> None:
    body = parse_signed_note(log.checkpoint(SIGNER)).text
    log.add_cosignatures([c.cosign(body, 1764163200 + k) for k, c in enumerate(signers)])


def make_bundle(n: int, every: int = 3, text: str = "item", *, v1: bool = False) -> Bundle:
    log = sealed_log(n, every, text)
    cosign_last(log, CHAIR, SECRETARY, WITNESS)
    return log.export(SIGNER.verifier_key, ROLES, witnesses=[WITNESS.verifier_key], v1=v1)


def _flip_b64(value: str, bit: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(raw)).decode()


def names(location: str, i: int) -> bool:
    """``entries[i]...`` or a range ``entries[a:b]`` holding ``i``."""
    if location.startswith(f"entries[{i}]"):
        return True
    if location.startswith("entries[") and ":" in location:
        lo, hi = location[len("entries[") :].rstrip("]").split(":")
        return int(lo) <= i < int(hi)
    return False


def _errors(doc: Mapping[str, Any]) -> list[str]:
    report = verify_bundle(doc, policy=POLICY)
    assert not report.ok
    return report.locations()


def test_clean_bundle_verifies_against_its_policy_and_reports_cosigners() -> None:
    bundle = make_bundle(10)
    report = verify_bundle(bundle.to_json(), policy=POLICY)
    assert report.ok and report.status == "valid", report.summary()
    assert report.size == 12 and report.origin == ORIGIN and report.sealed and report.closed
    assert {c.role for c in report.cosignatures} == {"chair", "secretary"}
    assert [w.name for w in report.witnesses] == ["witness.example/w1"]
    assert report.log_key_fingerprint == SIGNER.verifier_key.fingerprint


def test_without_a_policy_a_clean_bundle_is_only_valid_but_unpinned() -> None:
    report = verify_bundle(make_bundle(4).to_json())
    assert report.ok and report.status == "valid-unpinned" and not report.pinned
    assert any("unpinned" in c for c in report.checked)


def test_a_genuine_prefix_cut_before_the_seal_fails_even_with_every_key_pinned() -> None:
    log = sealed_log(6, seal=False)  # e.g. cut before a vote's result
    cosign_last(log, CHAIR, SECRETARY, WITNESS)
    report = verify_bundle(log.export(SIGNER.verifier_key, ROLES), policy=POLICY)
    assert not report.ok and "seal" in report.locations(), report.summary()
    assert not report.sealed and not report.closed


def test_an_uncosigned_or_unwitnessed_bundle_fails_against_the_policy() -> None:
    log = sealed_log(4)
    cosign_last(log, CHAIR)  # the secretary and the witness never cosigned
    bundle = log.export(SIGNER.verifier_key, {"chair": CHAIR.verifier_key})
    report = verify_bundle(bundle, policy=POLICY)
    last = len(bundle.checkpoints) - 1
    assert set(report.locations()) == {
        f"checkpoints[{last}].cosignature[secretary]",
        f"checkpoints[{last}].witnesses",
    }, report.summary()
    # the bundle's own (shorter) cosigner list does not matter: the policy decides
    assert verify_bundle(bundle).status == "valid-unpinned"


def test_a_bundle_forged_from_scratch_is_never_plain_valid() -> None:
    forger = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
    fake_chair = Cosigner(CHAIR.name, Ed25519PrivateKey.from_private_bytes(b"\x0a" * 32))
    log = sealed_log(3, every=100)
    body = parse_signed_note(log.checkpoint(forger)).text
    log.add_cosignatures([fake_chair.cosign(body, 1764163200)])
    forged = log.export(forger.verifier_key, {"chair": fake_chair.verifier_key})
    assert verify_bundle(forged).status == "valid-unpinned"  # self-consistent, but unpinned
    report = verify_bundle(forged, policy=POLICY)
    assert "log_key" in report.locations()
    assert any(loc.endswith(".signature") for loc in report.locations())
    assert any(loc.endswith(".cosignature[chair]") for loc in report.locations())


def test_times_running_backwards_are_named() -> None:
    log = MinutesLog(ORIGIN)
    log.append({"type": "note", "seq": 0, "at": "2025-11-26T13:20:00Z"})
    log.append({"type": "meeting_closed", "seq": 1, "at": "2025-11-26T13:19:59.5Z"})
    log.append({"type": "minutes_rendered", "seq": 2, "at": AT, "covers": 2})
    cosign_last(log, CHAIR, SECRETARY, WITNESS)
    report = verify_bundle(log.export(SIGNER.verifier_key, ROLES), policy=POLICY)
    assert report.locations() == ["entries[1].at"], report.summary()


def test_seq_must_start_at_zero() -> None:
    log = MinutesLog(ORIGIN)
    log.append({"type": "meeting_closed", "seq": 1, "at": AT})
    log.append({"type": "minutes_rendered", "seq": 2, "at": AT, "covers": 1})
    cosign_last(log, CHAIR, SECRETARY, WITNESS)
    report = verify_bundle(log.export(SIGNER.verifier_key, ROLES), policy=POLICY)
    assert "entries[0].seq" in report.locations(), report.summary()


def test_a_known_checkpoint_from_a_fork_or_a_longer_log_fails_the_bundle() -> None:
    honest = sealed_log(5)
    cosign_last(honest, CHAIR, SECRETARY, WITNESS)
    bundle = honest.export(SIGNER.verifier_key, ROLES)
    early = honest.checkpoints[0]  # size 3, consistent
    assert verify_bundle(bundle, policy=POLICY, known_checkpoints=[early]).status == "valid"
    fork = sealed_log(5, text="forged")  # the same key signed another history
    fork_cp = fork.checkpoint(SIGNER)
    report = verify_bundle(bundle, policy=POLICY, known_checkpoints=[fork_cp])
    assert report.locations() == ["known_checkpoints[0]"]
    assert "fork" in report.errors[0].message
    longer = sealed_log(9, seal=False)
    report = verify_bundle(bundle, policy=POLICY, known_checkpoints=[longer.checkpoint(SIGNER)])
    assert report.locations() == ["known_checkpoints[0]"]
    assert "truncated" in report.errors[0].message
    stranger = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
    report = verify_bundle(
        bundle,
        policy=POLICY,
        known_checkpoints=[
            early.replace(early.split("\n\n")[1], "")
            + stranger.sign_note(parse_signed_note(early).text).split("\n\n")[1]
        ],
    )
    assert report.locations() == ["known_checkpoints[0]"]


def test_a_v1_bundle_with_per_entry_proofs_is_still_read() -> None:
    v1 = make_bundle(7, v1=True)
    doc = v1.to_dict()
    assert doc["format"] == "meetingd-minutes-bundle/v1" and len(doc["inclusion_proofs"]) == 9
    assert verify_bundle(json.dumps(doc), policy=POLICY).status == "valid"
    lean = make_bundle(7).to_dict()
    assert lean["format"] == "meetingd-minutes-bundle/v2"
    assert "inclusion_proofs" not in lean and "consistency_proofs" not in lean


def test_bundle_json_round_trips() -> None:
    bundle = make_bundle(5)
    assert Bundle.from_json(bundle.to_json()) == bundle


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_flipping_a_bit_of_an_entry_names_that_entry(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n).to_dict()
    i = data.draw(st.integers(0, n - 1))
    text = doc["entries"][i]
    pos = data.draw(st.integers(0, len(text) - 1))
    flipped = chr(ord(text[pos]) ^ (1 << data.draw(st.integers(0, 6))))
    doc["entries"][i] = text[:pos] + flipped + text[pos + 1 :]
    locations = _errors(doc)
    assert any(names(loc, i) for loc in locations), locations


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_flipping_a_bit_of_an_inclusion_proof_names_that_proof(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n, v1=True).to_dict()
    i = data.draw(st.integers(0, n - 1))
    proof = doc["inclusion_proofs"][i]
    j = data.draw(st.integers(0, len(proof) - 1))
    proof[j] = _flip_b64(proof[j], data.draw(st.integers(0, 255)))
    assert _errors(doc) == [f"inclusion_proofs[{i}]"]


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 30), st.data())
def test_flipping_a_bit_of_a_consistency_proof_names_that_proof(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n, every=2, v1=True).to_dict()
    candidates = [k for k, p in enumerate(doc["consistency_proofs"]) if p["hashes"]]
    k = data.draw(st.sampled_from(candidates))
    hashes = doc["consistency_proofs"][k]["hashes"]
    j = data.draw(st.integers(0, len(hashes) - 1))
    hashes[j] = _flip_b64(hashes[j], data.draw(st.integers(0, 255)))
    assert _errors(doc) == [f"consistency_proofs[{k}]"]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 20), st.integers(0, 255))
def test_flipping_a_bit_of_the_signed_root_fails_the_signature(n: int, bit: int) -> None:
    doc = make_bundle(n).to_dict()
    note = parse_signed_note(doc["checkpoints"][-1])
    lines = note.text.split("\n")
    lines[2] = _flip_b64(lines[2], bit)
    doc["checkpoints"][-1] = note.encode().replace(note.text, "\n".join(lines))
    last = len(doc["checkpoints"]) - 1
    locations = _errors(doc)
    assert f"checkpoints[{last}].signature" in locations
    assert f"checkpoints[{last}].cosignature[chair]" in locations


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 20), st.sampled_from([0, 1, 2, 3]), st.integers(0, 511))
def test_flipping_a_bit_of_any_signature_names_the_signer(n: int, which: int, bit: int) -> None:
    doc = make_bundle(n).to_dict()
    note = parse_signed_note(doc["checkpoints"][-1])
    sig = note.signatures[which]
    body = bytearray(sig.signature)
    body[(bit // 8) % len(body)] ^= 1 << (bit % 8)
    sigs = list(note.signatures)
    sigs[which] = type(sig)(sig.name, sig.key_id, bytes(body))
    doc["checkpoints"][-1] = type(note)(note.text, tuple(sigs)).encode()
    last = len(doc["checkpoints"]) - 1
    where = ["signature", "cosignature[chair]", "cosignature[secretary]", "witness[witness.example/w1]"][
        which
    ]
    expected = [f"checkpoints[{last}].{where}"]
    if which == 3:  # the only witness: the quorum is missed too
        expected.append(f"checkpoints[{last}].witnesses")
    assert _errors(doc) == expected


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_removing_an_entry_is_detected(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n).to_dict()
    i = data.draw(st.integers(0, n - 1))
    del doc["entries"][i]
    locations = _errors(doc)
    assert "entries" in locations  # count differs from the final checkpoint
    assert f"entries[{i}].seq" in locations or f"entries[{i}]" in locations


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_reordering_entries_names_both(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n).to_dict()
    i = data.draw(st.integers(0, n - 2))
    j = data.draw(st.integers(i + 1, n - 1))
    doc["entries"][i], doc["entries"][j] = doc["entries"][j], doc["entries"][i]
    locations = _errors(doc)
    for k in (i, j):
        assert f"entries[{k}].seq" in locations


def test_equivocation_between_two_checkpoints_for_the_same_origin_is_named() -> None:
    honest = make_bundle(6, every=100)
    forked = make_bundle(6, every=100, text="forged")
    doc = honest.to_dict()
    doc["checkpoints"] = [forked.checkpoints[-1], honest.checkpoints[-1]]
    report = verify_bundle(doc, policy=POLICY)
    assert not report.ok
    messages = [str(f) for f in report.errors]
    assert any("checkpoints[1]" in m and "equivocation" in m for m in messages), messages
    assert any("checkpoints[0]" in m and "root does not match" in m for m in messages), messages


def test_a_cosignature_time_running_backwards_between_checkpoints_is_named() -> None:
    log = sealed_log(4, every=100)
    body = parse_signed_note(log.checkpoint(SIGNER)).text
    log.add_cosignatures([WITNESS.cosign(body, 1764163300)])
    log.append({"type": "note", "seq": 6, "at": AT})  # not a real log: only the times matter
    body = parse_signed_note(log.checkpoint(SIGNER)).text
    log.add_cosignatures([WITNESS.cosign(body, 1764163200)])
    report = verify_bundle(
        log.export(SIGNER.verifier_key, {}),
        policy=TrustPolicy(SIGNER.verifier_key, (), (WITNESS.verifier_key,), 1),
    )
    assert "checkpoints[1].witness[witness.example/w1]" in report.locations(), report.summary()


def test_non_canonical_entry_and_malformed_bundle_are_reported() -> None:
    doc = make_bundle(3).to_dict()
    doc["entries"][1] = json.dumps(json.loads(doc["entries"][1]), indent=1)
    assert "entries[1]" in _errors(doc)
    assert verify_bundle("{").locations() == ["bundle"]
    assert verify_bundle({"format": "x"}).locations() == ["bundle"]


def test_entry_check_plugins_receive_entries_and_their_findings_are_reported() -> None:
    seen: list[int] = []

    def checker(entries: Sequence[Mapping[str, Any]]) -> Iterable[Finding]:
        seen.append(len(entries))
        yield Finding("tally[poll-1]", "recomputed 3 yes, minutes say 4")

    def broken(entries: Sequence[Mapping[str, Any]]) -> Iterable[Finding]:
        raise RuntimeError("bug")

    report = verify_bundle(
        make_bundle(4),
        policy=POLICY,
        tally_checker=checker,
        checks=[EntryCheck("e2e", frozenset({"e2e_ballot"}), broken)],
    )
    assert seen == [6] and report.locations() == ["e2e", "tally[poll-1]"]
    assert "e2e (e2e_ballot)" in report.checked


def test_a_standalone_tlog_proof_verifies_for_its_entry_only() -> None:
    bundle = make_bundle(7)
    proof = bundle.tlog_proof(3)
    assert proof.startswith("c2sp.org/tlog-proof@v1\nindex 3\n")
    cp = verify_tlog_proof(proof, bundle.entries[3].encode(), SIGNER.verifier_key, ORIGIN)
    assert cp.size == 9
    with pytest.raises(ValueError):
        verify_tlog_proof(proof, bundle.entries[4].encode(), SIGNER.verifier_key, ORIGIN)


ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_verifier_imports_only_stdlib_cryptography_rfc8785_and_safe_recorder_modules() -> None:
    root = Path(__file__).resolve().parents[2]
    todo, done = ["recorder.verifier"], set()
    while todo:
        module = todo.pop()
        if module in done:
            continue
        done.add(module)
        for name in _imports(root / (module.replace(".", "/") + ".py")):
            top = name.split(".")[0]
            if name.startswith("recorder."):
                todo.append(name)
            elif top == "__future__" or top in sys.stdlib_module_names:
                continue
            else:
                assert top in ALLOWED_THIRD_PARTY, f"{module} imports {name}"
    assert "recorder.minutes_log" not in done
