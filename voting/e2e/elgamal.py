# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Exponential ElGamal on ristretto255: ``Enc_Y(m; r) = (r·B, m·B + r·Y)``.

Ciphertexts add component-wise, so the sum of ciphertexts encrypts the sum of the
plaintexts; a plaintext is recovered as ``m·B = β − x·α`` and a small discrete log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput
from voting.e2e.group import IDENTITY, add, base_mul, decode_point, mul, point_hex


@dataclass(frozen=True)
class Ciphertext:
    alpha: bytes
    beta: bytes

    def __add__(self, other: Ciphertext) -> Ciphertext:
        return Ciphertext(add(self.alpha, other.alpha), add(self.beta, other.beta))

    def to_dict(self) -> dict[str, str]:
        return {"alpha": point_hex(self.alpha), "beta": point_hex(self.beta)}

    @classmethod
    def from_dict(cls, data: object, field: str, *, allow_identity: bool = False) -> Ciphertext:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{field} must be an object", field=field)
        _exact_keys(data, {"alpha", "beta"}, field)
        return cls(
            decode_point(data["alpha"], f"{field}.alpha", allow_identity=allow_identity),
            decode_point(data["beta"], f"{field}.beta", allow_identity=allow_identity),
        )


ZERO = Ciphertext(IDENTITY, IDENTITY)
"""The neutral ciphertext (the sum of no ciphertexts)."""


def encrypt(y: bytes, m: int, r: int) -> Ciphertext:
    return Ciphertext(base_mul(r), add(base_mul(m), mul(r, y)))


def total(ciphertexts: Iterable[Ciphertext]) -> Ciphertext:
    acc = ZERO
    for c in ciphertexts:
        acc = acc + c
    return acc


def _exact_keys(data: Mapping[str, Any], keys: set[str], field: str) -> None:
    unknown = sorted(set(data) - keys, key=str)
    if unknown:
        raise InvalidInput(f"unknown field {field}.{unknown[0]}", field=f"{field}.{unknown[0]}")
    missing = sorted(keys - set(data))
    if missing:
        raise InvalidInput(f"missing field {field}.{missing[0]}", field=f"{field}.{missing[0]}")


exact_keys = _exact_keys
