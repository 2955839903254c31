"""Encrypted Ed25519 key files and fingerprints."""

from __future__ import annotations

import hashlib
import json

import pytest

from recorder.errors import KeyFileError
from recorder.keys import (
    decrypt_private_key,
    encrypt_private_key,
    fingerprint,
    generate_private_key,
    read_public_key,
)
from recorder.note import raw_public_key


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, str]:
    key = generate_private_key()
    return raw_public_key(key.public_key()), encrypt_private_key(key, "correct horse")


def test_key_file_round_trip_gives_back_the_same_key(sealed: tuple[bytes, str]) -> None:
    public, document = sealed
    key = decrypt_private_key(document, "correct horse")
    assert raw_public_key(key.public_key()) == public == read_public_key(document)
    doc = json.loads(document)
    assert doc["kdf"]["name"] == "scrypt" and doc["kdf"]["n"] >= 2**15
    assert doc["aead"] == "chacha20-poly1305"


def test_wrong_passphrase_is_a_clear_error(sealed: tuple[bytes, str]) -> None:
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        decrypt_private_key(sealed[1], "Correct horse")


def test_swapped_public_key_in_header_is_detected(sealed: tuple[bytes, str]) -> None:
    doc = json.loads(sealed[1])
    other = generate_private_key()
    import base64

    doc["public_key"] = base64.b64encode(raw_public_key(other.public_key())).decode()
    with pytest.raises(KeyFileError, match="wrong passphrase, or the key file was modified"):
        decrypt_private_key(json.dumps(doc), "correct horse")


def test_weakened_kdf_parameters_are_refused(sealed: tuple[bytes, str]) -> None:
    doc = json.loads(sealed[1])
    doc["kdf"]["n"] = 2**10
    with pytest.raises(KeyFileError, match="out of bounds"):
        decrypt_private_key(json.dumps(doc), "correct horse")


def test_malformed_key_files_are_refused() -> None:
    with pytest.raises(KeyFileError, match="not JSON"):
        decrypt_private_key("{", "x")
    with pytest.raises(KeyFileError, match="format"):
        decrypt_private_key('{"format": "pkcs8"}', "x")
    with pytest.raises(KeyFileError, match="empty"):
        encrypt_private_key(generate_private_key(), "")


def test_fingerprint_is_sha256_of_raw_public_key() -> None:
    key = generate_private_key()
    raw = raw_public_key(key.public_key())
    assert fingerprint(key.public_key()) == fingerprint(raw) == hashlib.sha256(raw).hexdigest()
