"""Ed25519 keys for the minutes: generation, encryption at rest, fingerprints.

The server's minutes key and each officer's cosigning key are Ed25519. A
private key at rest is a small JSON document::

    {
      "format": "meetingd-ed25519-key/v1",
      "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<base64, 16 bytes>"},
      "aead": "chacha20-poly1305",
      "nonce": "<base64, 12 bytes>",
      "public_key": "<base64, 32 bytes>",
      "ciphertext": "<base64: the 32-byte raw private key sealed, with its 16-byte tag>"
    }

The AEAD key is derived from the passphrase with scrypt; every field except
``ciphertext`` is bound as associated data, so a modified header (weaker KDF
parameters, a swapped public key) makes opening fail. The fingerprint printed
for a key is the hex SHA-256 of its raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from recorder.errors import KeyFileError
from recorder.note import raw_public_key

logger = logging.getLogger(__name__)

KEY_FILE_FORMAT = "meetingd-ed25519-key/v1"
AEAD_NAME = "chacha20-poly1305"
SCRYPT_MIN_N = 2**15
SCRYPT_MAX_N = 2**22
SCRYPT_DEFAULT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_SIZE = 16
_NONCE_SIZE = 12


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def fingerprint(public_key: Ed25519PublicKey | bytes) -> str:
    """Hex SHA-256 of the raw 32-byte public key."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    return hashlib.sha256(raw).hexdigest()


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not data:
        raise KeyFileError("the passphrase is empty")
    return data


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def _associated_data(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def encrypt_private_key(
    private_key: Ed25519PrivateKey, passphrase: str | bytes, *, scrypt_n: int = SCRYPT_DEFAULT_N
) -> str:
    """Seal ``private_key`` under ``passphrase``; return the key file JSON text."""
    if scrypt_n < SCRYPT_MIN_N or scrypt_n > SCRYPT_MAX_N or scrypt_n & (scrypt_n - 1):
        raise KeyFileError(f"scrypt n={scrypt_n} must be a power of two in 2**15..2**22")
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(_NONCE_SIZE)
    header: dict[str, Any] = {
        "format": KEY_FILE_FORMAT,
        "kdf": {
            "name": "scrypt",
            "n": scrypt_n,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode("ascii"),
        },
        "aead": AEAD_NAME,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "public_key": base64.b64encode(raw_public_key(private_key.public_key())).decode("ascii"),
    }
    key = _derive(_passphrase_bytes(passphrase), salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    sealed = ChaCha20Poly1305(key).encrypt(nonce, raw, _associated_data(header))
    document = dict(header, ciphertext=base64.b64encode(sealed).decode("ascii"))
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KeyFileError(f"key file field {name!r} is missing or not a {kind.__name__}")
    return value


def _b64_field(doc: dict[str, Any], name: str, size: int | None = None) -> bytes:
    try:
        data = base64.b64decode(_field(doc, name, str), validate=True)
    except binascii.Error as exc:
        raise KeyFileError(f"key file field {name!r} is not base64") from exc
    if size is not None and len(data) != size:
        raise KeyFileError(f"key file field {name!r} has {len(data)} bytes, expected {size}")
    return data


def read_public_key(document: str) -> bytes:
    """The raw public key recorded in a key file (not authenticated until opened)."""
    return _b64_field(_load(document), "public_key", 32)


def _load(document: str) -> dict[str, Any]:
    try:
        doc = json.loads(document)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"key file is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise KeyFileError("key file is not a JSON object")
    if doc.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(f"key file format is {doc.get('format')!r}, expected {KEY_FILE_FORMAT}")
    return doc


def decrypt_private_key(document: str, passphrase: str | bytes) -> Ed25519PrivateKey:
    """Open a key file. Raises :class:`KeyFileError` on a wrong passphrase or tampering."""
    doc = _load(document)
    unknown = set(doc) - {"format", "kdf", "aead", "nonce", "public_key", "ciphertext"}
    if unknown:
        raise KeyFileError(f"key file has unknown fields: {', '.join(sorted(unknown))}")
    if doc.get("aead") != AEAD_NAME:
        raise KeyFileError(f"key file AEAD {doc.get('aead')!r} is not {AEAD_NAME}")
    kdf = _field(doc, "kdf", dict)
    if kdf.get("name") != "scrypt":
        raise KeyFileError(f"key file KDF {kdf.get('name')!r} is not scrypt")
    n, r, p = (_field(kdf, k, int) for k in ("n", "r", "p"))
    if n < SCRYPT_MIN_N or n > SCRYPT_MAX_N or n & (n - 1) or r < SCRYPT_R or p < 1 or p > 16:
        raise KeyFileError(f"key file scrypt parameters n={n} r={r} p={p} are out of bounds")
    salt = _b64_field(kdf, "salt", _SALT_SIZE)
    nonce = _b64_field(doc, "nonce", _NONCE_SIZE)
    public = _b64_field(doc, "public_key", 32)
    sealed = _b64_field(doc, "ciphertext", 32 + 16)
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    key = _derive(_passphrase_bytes(passphrase), salt, n, r, p)
    try:
        raw = ChaCha20Poly1305(key).decrypt(nonce, sealed, _associated_data(header))
    except InvalidTag as exc:
        raise KeyFileError("wrong passphrase, or the key file was modified") from exc
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    if raw_public_key(private_key.public_key()) != public:
        raise KeyFileError("key file public key does not match its private key")
    return private_key
