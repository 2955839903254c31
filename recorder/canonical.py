"""RFC 8785 (JSON Canonicalization Scheme) for minutes entries.

Every minutes entry is stored, hashed and exported as its RFC 8785 canonical
UTF-8 bytes, produced by the ``rfc8785`` package. Two extra rules keep entries
portable to every JSON implementation an auditor may use:

* integers must satisfy ``|n| < 2**53`` (the IEEE 754 exact-integer range);
* floats must be finite (no NaN or infinities).

:func:`is_canonical` checks a stored text. Entries are usually ASCII-only and
float-free, and for those ``json.dumps(sort_keys=True)`` produces exactly the
RFC 8785 form (same escapes, same key order, same integer spelling), so that
case takes a fast path; anything else goes through ``rfc8785`` itself.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import rfc8785

from recorder.errors import CanonicalJSONError

logger = logging.getLogger(__name__)

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude allowed in an entry (JavaScript's ``Number.MAX_SAFE_INTEGER``)."""


def check_value(value: Any, path: str = "$") -> None:
    """Raise :class:`CanonicalJSONError` if ``value`` holds anything we refuse to sign.

    Allowed: dict with str keys, list, tuple, str, bool, None, int with
    ``|n| <= 2**53 - 1``, finite float. ``path`` names the offending member
    (JSONPath-like) in the error message.
    """
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside the safe range |n| < 2**53")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalJSONError(f"{path}: non-finite number {value!r} is not JSON")
        if value.is_integer() and MAX_SAFE_INTEGER < abs(value) < 1e21:
            # RFC 8785 spells these as integers, which would read back out of range.
            raise CanonicalJSONError(f"{path}: number {value!r} is outside the safe range |n| < 2**53")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            check_value(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_value(item, f"{path}[{i}]")
        return
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`CanonicalJSONError` for integers with ``|n| >= 2**53``,
    non-finite floats, non-string keys, unsupported types or strings that are
    not valid Unicode (lone surrogates).
    """
    check_value(value)
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError, TypeError) as exc:
        raise CanonicalJSONError(f"$: cannot canonicalize: {exc}") from exc


def _reject_constant(name: str) -> Any:
    raise CanonicalJSONError(f"$: {name} is not JSON")


def parse(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN/Infinity); raise :class:`CanonicalJSONError`."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except CanonicalJSONError:
        raise
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CanonicalJSONError(f"not valid JSON: {exc}") from exc


def _float_flagger(flag: list[bool]) -> Any:
    def parse_float(text: str) -> float:
        flag.append(True)
        return float(text)

    return parse_float


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise CanonicalJSONError(f"integer {text} is outside the safe range |n| < 2**53")
    return value


def parse_canonical(text: str) -> Any:
    """Parse ``text`` and check it is exactly the canonical form of its value.

    Returns the parsed value. Raises :class:`CanonicalJSONError` naming the
    reason: not JSON, a value outside our limits, or "not canonical" (different
    key order, whitespace, escapes, number spelling, or duplicate keys).
    """
    floats: list[bool] = []
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_float_flagger(floats),
            parse_int=_parse_int,
        )
    except CanonicalJSONError:
        raise
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(f"not valid JSON: {exc}") from exc
    if not floats and text.isascii():
        # ASCII-only and float-free: json.dumps matches RFC 8785 exactly
        # (code point order == UTF-16 order for ASCII keys; same escapes).
        # Integers were range-checked while parsing; JSON keys are strings.
        again = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        again = canonicalize(value).decode("utf-8")
    if again != text:
        raise CanonicalJSONError("text is not in RFC 8785 canonical form")
    return value


def is_canonical(text: str) -> bool:
    """Whether ``text`` is RFC 8785 canonical JSON within our limits."""
    try:
        parse_canonical(text)
    except CanonicalJSONError:
        return False
    return True
