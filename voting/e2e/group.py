# ruff: noqa: RUF001, RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""The ristretto255 group (RFC 9496) over libsodium, through ``rbcl``.

Points are handled as their canonical 32-byte encodings (``bytes``), scalars as Python
``int`` in ``[0, ℓ)``. Every point that comes from outside goes through
:func:`decode_point`, every scalar through :func:`decode_scalar`: both raise
:class:`~meeting.errors.InvalidInput` with a precise code (``non_canonical_point``,
``identity_point``, ``scalar_out_of_range``) naming the field.

Why ``rbcl`` and not PyNaCl: PyNaCl 1.6.2 (the current release) declares only the
``crypto_core_ed25519_*`` / ``crypto_scalarmult_ed25519*`` functions in its cffi
module; none of the ``crypto_core_ristretto255_*`` / ``crypto_scalarmult_ristretto255*``
functions is reachable from Python. ``rbcl`` wraps exactly those, from libsodium itself.

``rbcl`` ships libsodium hex-encoded inside ``rbcl/_sodium.py``; every import writes it
to a fresh ``NamedTemporaryFile(delete=False)`` (2.8 MB in ``$TMPDIR``) and loads it
with ``ctypes``, and nothing ever removes the file: every process that imported it left
a copy behind. Once the library is loaded the file is no longer needed (the loader has
mapped it), so :func:`_remove_rbcl_copy` unlinks it right after the import. Where a
loaded library cannot be unlinked (Windows) the file stays, as before.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from collections.abc import Iterable

import rbcl

from meeting.errors import InvalidInput


def _remove_rbcl_copy() -> None:
    """Unlink the copy of libsodium that importing ``rbcl`` wrote to the temp dir."""
    loader = sys.modules.get("rbcl._sodium")
    path = getattr(loader, "lib_path", None)
    if isinstance(path, str) and os.path.basename(path).startswith("tmp"):
        try:
            os.unlink(path)
        except OSError:  # already gone, or (Windows) a loaded library cannot be unlinked
            pass


_remove_rbcl_copy()

ORDER = 2**252 + 27742317777372353535851937790883648493
"""ℓ, the prime order of the group."""
POINT_BYTES = 32
SCALAR_BYTES = 32
IDENTITY = bytes(POINT_BYTES)
"""The encoding of the identity element (RFC 9496: all zero bytes)."""
GENERATOR = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")
"""The canonical generator B of RFC 9496."""


def scalar_bytes(k: int) -> bytes:
    """32-byte little-endian encoding of ``k mod ℓ``."""
    return (k % ORDER).to_bytes(SCALAR_BYTES, "little")


def is_valid_point(data: bytes) -> bool:
    """True for a canonical encoding of a group element (the identity included)."""
    return (
        isinstance(data, bytes)
        and len(data) == POINT_BYTES
        and (data == IDENTITY or bool(rbcl.crypto_core_ristretto255_is_valid_point(data)))
    )


def decode_point(text: object, field: str, *, allow_identity: bool = False) -> bytes:
    """Parse a point given as 64 lowercase hex digits; refuse non-canonical encodings
    and (unless allowed) the identity."""
    if not isinstance(text, str) or len(text) != 2 * POINT_BYTES or text != text.lower():
        raise InvalidInput(
            f"{field} must be 64 lowercase hex digits", code="non_canonical_point", field=field
        )
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise InvalidInput(
            f"{field} must be 64 lowercase hex digits", code="non_canonical_point", field=field
        ) from None
    if data == IDENTITY:
        if allow_identity:
            return data
        raise InvalidInput(f"{field} is the identity element", code="identity_point", field=field)
    if not rbcl.crypto_core_ristretto255_is_valid_point(data):
        raise InvalidInput(
            f"{field} is not a canonical ristretto255 encoding",
            code="non_canonical_point",
            field=field,
        )
    return data


def decode_scalar(text: object, field: str) -> int:
    """Parse a scalar given as 64 lowercase hex digits (32 bytes little-endian) < ℓ."""
    if not isinstance(text, str) or len(text) != 2 * SCALAR_BYTES or text != text.lower():
        raise InvalidInput(
            f"{field} must be 64 lowercase hex digits", code="scalar_out_of_range", field=field
        )
    try:
        value = int.from_bytes(bytes.fromhex(text), "little")
    except ValueError:
        raise InvalidInput(
            f"{field} must be 64 lowercase hex digits", code="scalar_out_of_range", field=field
        ) from None
    if value >= ORDER:
        raise InvalidInput(f"{field} is not below the group order", code="scalar_out_of_range", field=field)
    return value


def point_hex(p: bytes) -> str:
    return p.hex()


def scalar_hex(k: int) -> str:
    return scalar_bytes(k).hex()


def random_scalar() -> int:
    """A uniform non-zero scalar (64 random bytes reduced mod ℓ)."""
    while True:
        k = int.from_bytes(secrets.token_bytes(64), "little") % ORDER
        if k:
            return k


def base_mul(k: int) -> bytes:
    """k·B (the identity for k ≡ 0)."""
    k %= ORDER
    if k == 0:
        return IDENTITY
    out: bytes = rbcl.crypto_scalarmult_ristretto255_base(scalar_bytes(k))
    return out


def mul(k: int, p: bytes) -> bytes:
    """k·P (the identity for k ≡ 0 or P the identity)."""
    k %= ORDER
    if k == 0 or p == IDENTITY:
        return IDENTITY
    out: bytes = rbcl.crypto_scalarmult_ristretto255_allow_scalar_zero(scalar_bytes(k), p)
    return out


def add(p: bytes, q: bytes) -> bytes:
    if p == IDENTITY:
        return q
    if q == IDENTITY:
        return p
    out: bytes = rbcl.crypto_core_ristretto255_add(p, q)
    return out


def sub(p: bytes, q: bytes) -> bytes:
    if q == IDENTITY:
        return p
    if p == IDENTITY:
        neg: bytes = rbcl.crypto_core_ristretto255_sub(IDENTITY, q)
        return neg
    out: bytes = rbcl.crypto_core_ristretto255_sub(p, q)
    return out


def total(points: Iterable[bytes]) -> bytes:
    acc = IDENTITY
    for p in points:
        acc = add(acc, p)
    return acc


def from_hash(data: bytes) -> bytes:
    """RFC 9496 §4.3.4 element derivation from 64 uniform bytes."""
    if len(data) != 64:
        raise ValueError("from_hash takes 64 bytes")
    out: bytes = rbcl.crypto_core_ristretto255_from_hash(data)
    return out


def hash_to_scalar(data: bytes) -> int:
    """SHA-512 of ``data``, read little-endian, reduced mod ℓ."""
    return int.from_bytes(hashlib.sha512(data).digest(), "little") % ORDER
