"""MinutesLog: append, checkpoints, restore, refusal to sign inconsistent trees."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meeting.errors import InvalidInput, InvalidState
from recorder.canonical import canonicalize
from recorder.checkpoint import Checkpoint
from recorder.merkle import leaf_hash, verify_consistency, verify_inclusion
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer, parse_signed_note

ORIGIN = "meetingd.example/minutes/m1"
SIGNER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))


def _entry(seq: int, **extra: object) -> dict[str, object]:
    return {"type": "note", "seq": seq, "at": "2025-11-26T13:20:00Z", **extra}


def _log(n: int) -> MinutesLog:
    log = MinutesLog(ORIGIN)
    for i in range(n):
        log.append(_entry(i, text=f"item {i}"))
    return log


def test_append_returns_index_leaf_hash_and_canonical_bytes() -> None:
    log = MinutesLog(ORIGIN)
    index, h, canonical = log.append({"type": "opened", "seq": 1, "at": "2025-11-26T13:20:00+00:00", "b": 1})
    assert index == 0 and log.size == 1
    assert canonical == canonicalize({"type": "opened", "seq": 1, "at": "2025-11-26T13:20:00+00:00", "b": 1})
    assert h == leaf_hash(canonical) and log.root() == h


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"seq": 0, "at": "2025-11-26T13:20:00Z"}, "type"),
        ({"type": "x", "seq": -1, "at": "2025-11-26T13:20:00Z"}, "seq"),
        ({"type": "x", "seq": 0, "at": "2025-11-26T14:20:00+01:00"}, "UTC"),
        ({"type": "x", "seq": 0, "at": "yesterday"}, "ISO-8601"),
        ({"type": "x", "seq": 0, "at": "2025-11-26T13:20:00Z", "n": 2**53}, "safe range"),
    ],
)
def test_bad_entries_are_invalid_input(entry: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        MinutesLog(ORIGIN).append(entry)


def test_seq_must_be_contiguous() -> None:
    log = _log(2)
    with pytest.raises(InvalidInput, match="not the next seq 2"):
        log.append(_entry(3))


def test_checkpoint_is_a_signed_note_of_the_current_tree_head() -> None:
    log = _log(5)
    note = log.checkpoint(SIGNER)
    cp = Checkpoint.parse(parse_signed_note(note).text)
    assert (cp.origin, cp.size, cp.root_hash) == (ORIGIN, 5, log.root())
    assert log.checkpoint(SIGNER) == note  # nothing new: same checkpoint
    assert log.checkpoints == (note,)


def test_proofs_from_the_log_verify() -> None:
    log = _log(9)
    verify_inclusion(4, 7, leaf_hash(log.entry(4)), log.inclusion_proof(4, 7), log.root(7))
    verify_consistency(3, 9, log.root(3), log.root(9), log.consistency_proof(3, 9))
    with pytest.raises(InvalidInput):
        log.inclusion_proof(9)


def test_restored_log_continues_and_signs() -> None:
    log = _log(4)
    first = log.checkpoint(SIGNER)
    restored = MinutesLog.restore(ORIGIN, log.entries, [first], log_key=SIGNER.verifier_key)
    assert restored.root() == log.root() and restored.size == 4
    restored.append(_entry(4))
    assert Checkpoint.parse(parse_signed_note(restored.checkpoint(SIGNER)).text).size == 5


def test_restored_log_refuses_to_sign_over_tampered_entries() -> None:
    log = _log(4)
    first = log.checkpoint(SIGNER)
    tampered = list(log.entries)
    tampered[1] = canonicalize(_entry(1, text="rewritten"))
    restored = MinutesLog.restore(ORIGIN, tampered, [first])
    restored.append(_entry(4))
    with pytest.raises(InvalidState, match=r"checkpoint 0 root does not match entries 0\.\.3"):
        restored.checkpoint(SIGNER)


def test_restored_log_refuses_to_sign_after_truncation() -> None:
    log = _log(4)
    first = log.checkpoint(SIGNER)
    restored = MinutesLog.restore(ORIGIN, log.entries[:3], [first])
    with pytest.raises(InvalidState, match="signed at size 4 but the log has 3"):
        restored.checkpoint(SIGNER)


def test_restore_rejects_non_canonical_or_foreign_storage() -> None:
    with pytest.raises(InvalidState, match="entry 0 is invalid"):
        MinutesLog.restore(ORIGIN, ['{"type": "x", "seq": 0, "at": "2025-11-26T13:20:00Z"}'])
    other = Ed25519Signer("other.example/log", Ed25519PrivateKey.from_private_bytes(b"\x03" * 32))
    note = _log(1).checkpoint(other)
    with pytest.raises(InvalidState, match="checkpoint 0 is invalid"):
        MinutesLog.restore(ORIGIN, _log(1).entries, [note], log_key=SIGNER.verifier_key)


def test_export_requires_a_checkpoint_covering_every_entry() -> None:
    log = _log(2)
    log.checkpoint(SIGNER)
    log.append(_entry(2))
    with pytest.raises(InvalidState, match="covering every entry"):
        log.export(SIGNER.verifier_key)
