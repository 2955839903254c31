"""C2SP ``tlog-cosignature`` v1: timestamped Ed25519 cosignatures (type 0x04).

A cosignature is a note signature line on a checkpoint whose signature bytes
are ``timestamp (8 bytes, big-endian) || Ed25519 signature (64 bytes)`` over::

    cosignature/v1
    time <timestamp>
    <checkpoint body, including its final newline>

The key ID is ``SHA-256(name || "\\n" || 0x04 || public key)[:4]``. In meetingd
the chair and the secretary cosign the final checkpoint of a meeting's minutes.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.errors import CosignatureError
from recorder.note import (
    SIG_COSIGNATURE_V1,
    NoteSignature,
    VerifierKey,
    check_key_name,
    check_note_text,
    raw_public_key,
)

logger = logging.getLogger(__name__)

COSIGNATURE_HEADER = "cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_SIZE = 8 + 64


def cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The exact bytes a v1 cosigner signs."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature timestamp {timestamp} is outside 0..2**63-1")
    check_note_text(checkpoint_body)
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{checkpoint_body}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, and the time they claim to have signed."""

    name: str
    timestamp: int
    fingerprint: str


class Cosigner:
    """An officer's cosigning key (e.g. the chair's) under a key name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.verifier_key = VerifierKey(name, SIG_COSIGNATURE_V1, raw_public_key(private_key.public_key()))

    def cosign(self, checkpoint_body: str, timestamp: int) -> NoteSignature:
        """Cosign a checkpoint body at ``timestamp`` (POSIX seconds, from the caller's clock)."""
        sig = self._private_key.sign(cosigned_message(checkpoint_body, timestamp))
        return NoteSignature(self.name, self.verifier_key.key_id, struct.pack(">Q", timestamp) + sig)


def verify_cosignature(checkpoint_body: str, sig: NoteSignature, key: VerifierKey) -> Cosignature:
    """Verify one cosignature line against ``key``; return its claimed time.

    Raises :class:`CosignatureError` naming the cosigner and what failed.
    """
    if key.sig_type != SIG_COSIGNATURE_V1:
        raise CosignatureError(f"key {key.name} is not a cosignature/v1 key")
    if not key.matches(sig):
        raise CosignatureError(
            f"signature by {sig.name} ({sig.key_id.hex()}) is not from cosigner {key.name}"
        )
    if len(sig.signature) != _SIGNATURE_SIZE:
        raise CosignatureError(
            f"cosignature by {key.name} has {len(sig.signature)} bytes, expected {_SIGNATURE_SIZE}"
        )
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp > MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature by {key.name} has timestamp above 2**63-1")
    try:
        key.ed25519().verify(sig.signature[8:], cosigned_message(checkpoint_body, timestamp))
    except InvalidSignature as exc:
        raise CosignatureError(f"cosignature by {key.name} does not verify") from exc
    return Cosignature(name=key.name, timestamp=timestamp, fingerprint=key.fingerprint)
