"""C2SP tlog-witness add-checkpoint decisions: each bad request gets the status the spec
names, and only a consistent checkpoint is cosigned."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.checkpoint import Checkpoint
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer, parse_signed_note
from recorder.witness import MAX_PROOF_LINES, Latest, add_checkpoint_body, decide

ORIGIN = "cell.example/minutes/7"
SIGNER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x05" * 32))
STRANGER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x06" * 32))


def log(n: int, text: str = "e") -> MinutesLog:
    out = MinutesLog(ORIGIN)
    for i in range(n):
        out.append({"type": "secretary_note", "seq": i, "at": "2026-01-01T00:00:00Z", "text": f"{text}{i}"})
    return out


def keys(origin: str) -> list:
    return [SIGNER.verifier_key] if origin == ORIGIN else []


def state_of(lg: MinutesLog, size: int) -> Latest:
    return Latest(size, lg.root(size))


def test_a_first_checkpoint_and_a_consistent_next_one_are_cosigned() -> None:
    lg = log(5)
    first = lg.checkpoint(SIGNER)
    d = decide(add_checkpoint_body(0, [], first), keys, lambda o: None)
    assert d.status == 200 and d.checkpoint == Checkpoint(ORIGIN, 5, lg.root())
    lg.append({"type": "secretary_note", "seq": 5, "at": "2026-01-01T00:00:01Z", "text": "x"})
    nxt = lg.checkpoint(SIGNER)
    body = add_checkpoint_body(5, lg.consistency_proof(5, 6), nxt)
    assert decide(body, keys, lambda o: state_of(lg, 5)).status == 200
    assert decide(add_checkpoint_body(5, [], first), keys, lambda o: state_of(lg, 5)).status == 200


def test_each_bad_request_gets_the_status_the_spec_names() -> None:
    lg = log(6)
    note = lg.checkpoint(SIGNER)
    honest = lambda o: state_of(lg, 4)  # noqa: E731
    garbage = [
        b"",
        b"\xff\xfe",
        b"hello\n\nworld",
        b"old 01\n\n" + note.encode(),
        b"old 4\nnot-base64!\n\n" + note.encode(),
        b"x" * 70_000,
        ("old 4\n" + "AAAA\n" * (MAX_PROOF_LINES + 1) + "\n" + note).encode(),
    ]
    for body in garbage:
        assert decide(body, keys, honest).status == 400, body[:30]
    assert decide(add_checkpoint_body(7, [], note), keys, honest).status == 400  # old > size
    other = MinutesLog("cell.example/minutes/8")
    other.append({"type": "secretary_note", "seq": 0, "at": "2026-01-01T00:00:00Z"})
    unknown = other.checkpoint(Ed25519Signer("cell.example/minutes/8", SIGNER._private_key))
    assert decide(add_checkpoint_body(0, [], unknown), keys, honest).status == 404
    forged = STRANGER.sign_note(parse_signed_note(note).text)
    assert decide(add_checkpoint_body(4, lg.consistency_proof(4, 6), forged), keys, honest).status == 403
    stale = decide(add_checkpoint_body(2, lg.consistency_proof(2, 6), note), keys, honest)
    assert stale.status == 409 and stale.latest_size == 4 and not stale.suspicious
    replay = decide(add_checkpoint_body(0, [], note), keys, honest)
    assert replay.status == 409 and replay.latest_size == 4
    fork = log(6, text="forged")
    fork_note = fork.checkpoint(SIGNER)
    bad_proof = decide(add_checkpoint_body(4, fork.consistency_proof(4, 6), fork_note), keys, honest)
    assert bad_proof.status == 422 and bad_proof.suspicious
    same_size = decide(add_checkpoint_body(6, [], fork_note), keys, lambda o: state_of(lg, 6))
    assert same_size.status == 409 and same_size.suspicious
    older = log(3).checkpoint(SIGNER)  # a replayed older checkpoint
    assert decide(add_checkpoint_body(3, [], older), keys, honest).status == 409
