# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Byte-exact hash inputs for every Fiat–Shamir challenge and for the tracker.

A transcript is a concatenation of fields, each written one way only:

* a text field: its UTF-8 length as 4 bytes big-endian, then the UTF-8 bytes;
* a number field (0 ≤ n < 2³²): 4 bytes big-endian;
* a point field: its 32-byte canonical encoding;
* a scalar field: 32 bytes little-endian.

A challenge is ``SHA-512(transcript)`` read as a little-endian integer, reduced mod ℓ.
``docs/e2e-ballots.md`` lists the fields of every transcript, in order.
"""

from __future__ import annotations

import hashlib

from voting.e2e.group import POINT_BYTES, hash_to_scalar, scalar_bytes

DOMAIN = "meetingd/e2e/v1"
VERSION = 1


class Transcript:
    def __init__(self, label: str) -> None:
        self._parts: list[bytes] = []
        self.text(DOMAIN)
        self.text(label)

    def text(self, value: str) -> Transcript:
        data = value.encode("utf-8")
        self._parts.append(len(data).to_bytes(4, "big"))
        self._parts.append(data)
        return self

    def number(self, value: int) -> Transcript:
        if not 0 <= value < 2**32:
            raise ValueError("transcript numbers are 32-bit")
        self._parts.append(value.to_bytes(4, "big"))
        return self

    def point(self, value: bytes) -> Transcript:
        if len(value) != POINT_BYTES:
            raise ValueError("a point is 32 bytes")
        self._parts.append(value)
        return self

    def scalar(self, value: int) -> Transcript:
        self._parts.append(scalar_bytes(value))
        return self

    def copy(self) -> Transcript:
        other = Transcript.__new__(Transcript)
        other._parts = list(self._parts)
        return other

    def data(self) -> bytes:
        return b"".join(self._parts)

    def challenge(self) -> int:
        return hash_to_scalar(self.data())

    def sha256(self) -> bytes:
        return hashlib.sha256(self.data()).digest()
