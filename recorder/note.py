"""C2SP ``signed-note``: text signed by one or more keys, and verifier keys.

Wire format (https://c2sp.org/signed-note)::

    <text ending in a newline>
    <blank line>
    — <key name> <base64(4-byte key ID || signature)>
    ...

* key ID = ``SHA-256(name || 0x0A || signature type || public key)[:4]``;
  signature type ``0x01`` is plain Ed25519 over the note text, ``0x04`` is a
  tlog-cosignature/v1 (see :mod:`recorder.cosignature`).
* verifier key string: ``<name>+<key ID hex>+<base64(type || public key)>``.

This module parses and formats notes, computes key IDs, and signs / verifies
type 0x01 signatures. It depends only on the stdlib and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from recorder.errors import NoteError

logger = logging.getLogger(__name__)

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
ED25519_PUBLIC_KEY_SIZE = 32


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 with padding, no whitespace; raise :class:`NoteError` naming ``what``."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return data


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_key_name(name: str) -> None:
    """Key names are non-empty and contain no Unicode space and no ``+``."""
    if not name:
        raise NoteError("key name is empty")
    if "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} contains a space or '+'")
    if any(ord(ch) < 0x20 for ch in name):
        raise NoteError(f"key name {name!r} contains a control character")


def compute_key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || "\\n" || sig_type || public_key)[:4]``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class VerifierKey:
    """A named public key of a given signature type, as in a verifier key string."""

    name: str
    sig_type: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.sig_type not in (SIG_ED25519, SIG_COSIGNATURE_V1):
            raise NoteError(f"key {self.name}: unsupported signature type 0x{self.sig_type:02x}")
        if len(self.public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise NoteError(
                f"key {self.name}: Ed25519 public key has {len(self.public_key)} bytes, "
                f"expected {ED25519_PUBLIC_KEY_SIZE}"
            )

    @property
    def key_id(self) -> bytes:
        return compute_key_id(self.name, self.sig_type, self.public_key)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, hex (as printed by ``meetingd``)."""
        return hashlib.sha256(self.public_key).hexdigest()

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def encode(self) -> str:
        """The verifier key string ``name+keyid_hex+base64(type||key)``."""
        return f"{self.name}+{self.key_id.hex()}+{b64encode(bytes([self.sig_type]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a verifier key string; the embedded key ID must match."""
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"verifier key {text!r} does not have the form name+id+key")
        name, id_hex, key_b64 = parts
        if len(id_hex) != 8 or id_hex.lower() != id_hex:
            raise NoteError(f"verifier key {name!r}: key ID {id_hex!r} is not 8 lowercase hex")
        material = b64decode_strict(key_b64, f"verifier key {name!r} key material")
        if not material:
            raise NoteError(f"verifier key {name!r}: empty key material")
        key = cls(name=name, sig_type=material[0], public_key=material[1:])
        if key.key_id.hex() != id_hex:
            raise NoteError(
                f"verifier key {name!r}: key ID {id_hex} does not match the key ({key.key_id.hex()})"
            )
        return key

    def matches(self, sig: NoteSignature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature proper."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note text (ending in a newline) and its signature lines, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, *extra: NoteSignature) -> SignedNote:
        return SignedNote(self.text, self.signatures + tuple(extra))


def check_note_text(text: str) -> None:
    """A note text is non-empty, ends in a newline and has no other control characters."""
    if not text or not text.endswith("\n"):
        raise NoteError("note text must be non-empty and end with a newline")
    for ch in text:
        if ord(ch) < 0x20 and ch != "\n":
            raise NoteError(f"note text contains control character U+{ord(ch):04X}")


def parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"signature line {line!r} does not start with an em dash and a space")
    rest = line[len(SIGNATURE_PREFIX) :]
    name, sep, sig_b64 = rest.partition(" ")
    if not sep:
        raise NoteError(f"signature line {line!r} has no signature")
    check_key_name(name)
    raw = b64decode_strict(sig_b64, f"signature of {name!r}")
    if len(raw) < 5:
        raise NoteError(f"signature of {name!r} is too short ({len(raw)} bytes)")
    return NoteSignature(name=name, key_id=raw[:4], signature=raw[4:])


def parse_signed_note(note: str) -> SignedNote:
    """Split a signed note at its last blank line and parse the signature lines."""
    check_note_text(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("signed note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block:
        raise NoteError("signed note has no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"signed note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return SignedNote(text=text, signatures=tuple(parse_signature_line(x) for x in lines))


class Ed25519Signer:
    """Signs note texts with an Ed25519 key under a key name (signature type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        check_key_name(name)
        self.name = name
        self._private_key = private_key
        self.verifier_key = VerifierKey(name, SIG_ED25519, raw_public_key(private_key.public_key()))

    def sign(self, text: str) -> NoteSignature:
        check_note_text(text)
        sig = self._private_key.sign(text.encode("utf-8"))
        return NoteSignature(self.name, self.verifier_key.key_id, sig)

    def sign_note(self, text: str) -> str:
        """Return ``text`` as a signed note carrying this signer's signature."""
        return SignedNote(text, (self.sign(text),)).encode()


def verify_ed25519_signature(text: str, sig: NoteSignature, key: VerifierKey) -> None:
    """Raise :class:`NoteError` unless ``sig`` is ``key``'s type-0x01 signature of ``text``."""
    if key.sig_type != SIG_ED25519:
        raise NoteError(f"key {key.name} is not an Ed25519 note key")
    if not key.matches(sig):
        raise NoteError(f"signature by {sig.name} ({sig.key_id.hex()}) is not from key {key.name}")
    try:
        key.ed25519().verify(sig.signature, text.encode("utf-8"))
    except InvalidSignature as exc:
        raise NoteError(f"signature by {key.name} does not verify") from exc


def open_note(note: str | SignedNote, keys: list[VerifierKey]) -> SignedNote:
    """Parse ``note`` and verify it per the spec: every known-key signature must
    verify (unknown ones are ignored) and at least one must be present.

    Only type 0x01 keys are considered here; cosignatures are checked by
    :func:`recorder.cosignature.verify_cosignature`.
    """
    parsed = parse_signed_note(note) if isinstance(note, str) else note
    verified = 0
    for sig in parsed.signatures:
        for key in keys:
            if key.sig_type == SIG_ED25519 and key.matches(sig):
                verify_ed25519_signature(parsed.text, sig, key)
                verified += 1
    if not verified:
        names = ", ".join(k.name for k in keys) or "(none)"
        raise NoteError(f"note carries no signature from a known key ({names})")
    return parsed
