"""C2SP signed-note, tlog-checkpoint and tlog-cosignature formats."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.checkpoint import Checkpoint, add_cosignatures, open_checkpoint, sign_checkpoint
from recorder.cosignature import Cosigner, cosigned_message, verify_cosignature
from recorder.errors import CheckpointError, CosignatureError, NoteError
from recorder.note import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    Ed25519Signer,
    VerifierKey,
    compute_key_id,
    open_note,
    parse_signed_note,
)

SEED = bytes(range(32))
ORIGIN = "meetingd.example/minutes/m1"


def _signer(name: str = ORIGIN, seed: bytes = SEED) -> Ed25519Signer:
    return Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(seed))


def test_key_id_follows_the_spec_formula() -> None:
    signer = _signer()
    pub = signer.verifier_key.public_key
    want = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + pub).digest()[:4]
    assert compute_key_id(ORIGIN, SIG_ED25519, pub) == want == signer.verifier_key.key_id


def test_verifier_key_string_round_trips_and_checks_its_id() -> None:
    vkey = _signer().verifier_key
    text = vkey.encode()
    name, id_hex, material = text.split("+", 2)
    assert name == ORIGIN and id_hex == vkey.key_id.hex()
    assert base64.b64decode(material) == b"\x01" + vkey.public_key
    assert VerifierKey.parse(text) == vkey
    with pytest.raises(NoteError, match="does not match"):
        VerifierKey.parse(f"{name}+00000000+{material}")


def test_signed_note_layout_and_verification() -> None:
    signer = _signer()
    note = signer.sign_note("hello\nworld\n")
    text, blank, sig_line = note.partition("\n\n")
    assert text == "hello\nworld" and blank
    assert sig_line.startswith("\u2014 " + ORIGIN + " ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.split(" ")[2])
    assert raw[:4] == signer.verifier_key.key_id and len(raw) == 68
    assert open_note(note, [signer.verifier_key]).text == "hello\nworld\n"


def test_note_with_tampered_text_or_unknown_key_is_rejected() -> None:
    signer = _signer()
    note = signer.sign_note("hello\n")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("hello", "hellO"), [signer.verifier_key])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [_signer(seed=b"\x07" * 32).verifier_key])


@pytest.mark.parametrize(
    "bad",
    ["no blank line\n— a AAAA\n", "text\n\n", "text\n\n- a AAAAAAA=\n", "te\x01xt\n\n— a AAAAAAA=\n"],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        parse_signed_note(bad)


def test_checkpoint_body_format() -> None:
    cp = Checkpoint(ORIGIN, 20852163, bytes(32))
    assert cp.body() == f"{ORIGIN}\n20852163\n{base64.b64encode(bytes(32)).decode()}\n"
    assert Checkpoint.parse(cp.body()) == cp
    ext = Checkpoint(ORIGIN, 1, bytes(32), ("meeting m1",))
    assert Checkpoint.parse(ext.body()) == ext
    for bad in [f"{ORIGIN}\n01\nAAAA\n", f"{ORIGIN}\n1\n", f"{ORIGIN}\n1\nAAAA\n"]:
        with pytest.raises(CheckpointError):
            Checkpoint.parse(bad)


def test_cosignature_message_and_wire_layout() -> None:
    body = Checkpoint(ORIGIN, 3, bytes(32)).body()
    assert cosigned_message(body, 1679315147) == (b"cosignature/v1\ntime 1679315147\n" + body.encode())
    chair = Cosigner("meetingd.example/chair", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
    sig = chair.cosign(body, 1679315147)
    assert len(sig.signature) == 72 and sig.signature[:8] == (1679315147).to_bytes(8, "big")
    assert chair.verifier_key.sig_type == SIG_COSIGNATURE_V1
    assert verify_cosignature(body, sig, chair.verifier_key).timestamp == 1679315147


def test_open_checkpoint_checks_log_signature_origin_and_cosignatures() -> None:
    signer = _signer()
    chair = Cosigner("meetingd.example/chair", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32))
    cp = Checkpoint(ORIGIN, 3, bytes(32))
    note = sign_checkpoint(cp, signer)
    with pytest.raises(CosignatureError, match=r"not cosigned by meetingd\.example/chair"):
        open_checkpoint(note, signer.verifier_key, cosigner_keys=[chair.verifier_key], require_cosigners=True)
    cosigned = add_cosignatures(note, [chair.cosign(cp.body(), 1700000000)])
    opened = open_checkpoint(
        cosigned,
        signer.verifier_key,
        origin=ORIGIN,
        cosigner_keys=[chair.verifier_key],
        require_cosigners=True,
    )
    assert opened.checkpoint == cp and opened.cosignatures[0].timestamp == 1700000000
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(note, signer.verifier_key, origin="other.example/log")
    real = chair.cosign(cp.body(), 1700000000)
    moved = type(real)(real.name, real.key_id, (1700000001).to_bytes(8, "big") + real.signature[8:])
    forged = add_cosignatures(note, [moved])  # the claimed time moved by one second
    with pytest.raises(CosignatureError, match="does not verify"):
        open_checkpoint(forged, signer.verifier_key, cosigner_keys=[chair.verifier_key])
