"""verify_bundle: a clean bundle verifies; any tampering is found and located."""

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
from recorder.verifier import Finding, verify_bundle, verify_tlog_proof

ORIGIN = "meetingd.example/minutes/m1"
SIGNER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))
CHAIR = Cosigner("meetingd.example/chair", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
SECRETARY = Cosigner("meetingd.example/secretary", Ed25519PrivateKey.from_private_bytes(b"\x03" * 32))
ROLES = {"chair": CHAIR.verifier_key, "secretary": SECRETARY.verifier_key}


def make_bundle(n: int, every: int = 3, text: str = "item") -> Bundle:
    log = MinutesLog(ORIGIN)
    for i in range(n):
        log.append({"type": "note", "seq": i + 1, "at": "2025-11-26T13:20:00Z", "text": f"{text} {i}"})
        if i % every == every - 1:
            log.checkpoint(SIGNER)
    body = parse_signed_note(log.checkpoint(SIGNER)).text
    log.add_cosignatures([CHAIR.cosign(body, 1764163200), SECRETARY.cosign(body, 1764163201)])
    return log.export(SIGNER.verifier_key, ROLES)


def _flip_b64(value: str, bit: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(raw)).decode()


def _errors(doc: Mapping[str, Any]) -> list[str]:
    report = verify_bundle(doc)
    assert not report.ok
    return report.locations()


def test_clean_bundle_verifies_and_reports_cosigners() -> None:
    bundle = make_bundle(10)
    report = verify_bundle(bundle.to_json())
    assert report.ok, report.summary()
    assert report.size == 10 and report.origin == ORIGIN
    assert {c.role for c in report.cosignatures} == {"chair", "secretary"}
    assert report.log_key_fingerprint == SIGNER.verifier_key.fingerprint


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
    assert any(loc.startswith(f"entries[{i}]") for loc in locations), locations


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_flipping_a_bit_of_an_inclusion_proof_names_that_proof(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n).to_dict()
    i = data.draw(st.integers(0, n - 1))
    proof = doc["inclusion_proofs"][i]
    j = data.draw(st.integers(0, len(proof) - 1))
    proof[j] = _flip_b64(proof[j], data.draw(st.integers(0, 255)))
    assert _errors(doc) == [f"inclusion_proofs[{i}]"]


@settings(max_examples=25, deadline=None)
@given(st.integers(4, 30), st.data())
def test_flipping_a_bit_of_a_consistency_proof_names_that_proof(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n, every=2).to_dict()
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
@given(st.integers(1, 20), st.sampled_from([0, 1, 2]), st.integers(0, 511))
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
    where = ["signature", "cosignature[chair]", "cosignature[secretary]"][which]
    assert _errors(doc) == [f"checkpoints[{last}].{where}"]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.data())
def test_removing_an_entry_is_detected(n: int, data: st.DataObject) -> None:
    doc = make_bundle(n).to_dict()
    i = data.draw(st.integers(0, n - 1))
    del doc["entries"][i]
    locations = _errors(doc)
    assert "entries" in locations  # count differs from the final checkpoint
    if i < n - 1:
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
        assert f"entries[{k}]" in locations and f"entries[{k}].seq" in locations


def test_equivocation_between_two_checkpoints_for_the_same_origin_is_named() -> None:
    honest = make_bundle(6, every=100)
    forked = make_bundle(6, every=100, text="forged")
    doc = honest.to_dict()
    doc["checkpoints"] = [forked.checkpoints[-1], honest.checkpoints[-1]]
    doc["consistency_proofs"] = [{"old_size": 6, "new_size": 6, "hashes": []}]
    report = verify_bundle(doc)
    assert not report.ok
    messages = [str(f) for f in report.errors]
    assert any("checkpoints[1]" in m and "equivocation" in m for m in messages), messages
    assert "consistency_proofs[0]" in report.locations()


def test_missing_cosignature_on_the_final_checkpoint_is_named() -> None:
    log = MinutesLog(ORIGIN)
    log.append({"type": "opened", "seq": 0, "at": "2025-11-26T13:20:00Z"})
    body = parse_signed_note(log.checkpoint(SIGNER)).text
    log.add_cosignatures([CHAIR.cosign(body, 1764163200)])
    report = verify_bundle(log.export(SIGNER.verifier_key, ROLES))
    assert report.locations() == ["checkpoints[0].cosignature[secretary]"]


def test_trusted_keys_override_the_bundles_own_keys() -> None:
    bundle = make_bundle(3)
    impostor = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x09" * 32))
    report = verify_bundle(bundle, trusted_log_key=impostor.verifier_key.encode())
    assert "log_key" in report.locations()
    assert any(loc.endswith(".signature") for loc in report.locations())


def test_non_canonical_entry_and_malformed_bundle_are_reported() -> None:
    doc = make_bundle(3).to_dict()
    doc["entries"][1] = json.dumps(json.loads(doc["entries"][1]), indent=1)
    assert "entries[1]" in _errors(doc)
    assert verify_bundle("{").locations() == ["bundle"]
    assert verify_bundle({"format": "x"}).locations() == ["bundle"]


def test_tally_checker_hook_receives_entries_and_its_findings_are_reported() -> None:
    seen: list[int] = []

    def checker(entries: Sequence[Mapping[str, Any]]) -> Iterable[Finding]:
        seen.append(len(entries))
        yield Finding("tally[poll-1]", "recomputed 3 yes, minutes say 4")

    report = verify_bundle(make_bundle(4), tally_checker=checker)
    assert seen == [4] and report.locations() == ["tally[poll-1]"]


def test_a_standalone_tlog_proof_verifies_for_its_entry_only() -> None:
    bundle = make_bundle(7)
    proof = bundle.tlog_proof(3)
    assert proof.startswith("c2sp.org/tlog-proof@v1\nindex 3\n")
    cp = verify_tlog_proof(proof, bundle.entries[3].encode(), SIGNER.verifier_key, ORIGIN)
    assert cp.size == 7
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
