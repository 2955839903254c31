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
import re
from collections.abc import Sequence
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


def _plain(value: Any) -> bool:
    """True if ``value`` (already checked) has no float and only BMP, non-surrogate
    strings: then ``json`` writes exactly its RFC 8785 form (see :class:`CanonicalParser`)."""
    if isinstance(value, str):
        return _is_bmp_without_surrogates(value)
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, dict):
        return all(_is_bmp_without_surrogates(k) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False  # a float


_ENCODE_PLAIN = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonicalize(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`CanonicalJSONError` for integers with ``|n| >= 2**53``,
    non-finite floats, non-string keys, unsupported types or strings that are
    not valid Unicode (lone surrogates).

    Entries without floats and with only BMP strings (nearly all) are written by ``json``
    (C), which gives the same bytes; ``rfc8785`` writes strings a character at a time,
    and closing a 1,000-ballot secret poll spent half its time there.
    """
    check_value(value)
    if _plain(value):
        return _ENCODE_PLAIN(value).encode("utf-8")
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


_DIGITS_16 = re.compile(r"[0-9]{16}")
_OUTSIDE_BMP_OR_SURROGATE = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")


def _is_bmp_without_surrogates(text: str) -> bool:
    """No character above U+FFFF and no lone surrogate (a fast C check, not a regex)."""
    if text.isascii():
        return True
    try:
        return len(text.encode("utf-16-le")) == 2 * len(text)
    except UnicodeEncodeError:  # a lone surrogate
        return False


class CanonicalParser:
    """Parses many texts and checks each is canonical; reuses one decoder and encoder.

    Fast path: a text with no float, no digit run long enough for an out-of-range
    integer, and only BMP non-surrogate characters is re-encoded with
    ``json`` (``sort_keys``, no spaces, no ASCII escaping), which is exactly its RFC 8785
    form (code point order equals UTF-16 order in the BMP below the surrogates and
    above them alike, since keys have no surrogates; same escapes; same integers).
    Anything else goes through ``rfc8785`` and the range checks.
    """

    def __init__(self) -> None:
        self._floats = 0
        self._plain = json.JSONDecoder(parse_constant=_reject_constant, parse_float=self._flag_float)
        self._checked = json.JSONDecoder(
            parse_constant=_reject_constant, parse_float=self._flag_float, parse_int=_parse_int
        )
        self._encode = json.JSONEncoder(
            sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode

    def _flag_float(self, text: str) -> float:
        self._floats += 1
        return float(text)

    def parse(self, text: str) -> Any:
        """See :func:`parse_canonical`."""
        self._floats = 0
        long_digits = _DIGITS_16.search(text) is not None
        decoder = self._checked if long_digits else self._plain
        try:
            value = decoder.decode(text)
        except CanonicalJSONError:
            raise
        except json.JSONDecodeError as exc:
            raise CanonicalJSONError(f"not valid JSON: {exc}") from exc
        if not self._floats and _OUTSIDE_BMP_OR_SURROGATE.search(text) is None:
            again = self._encode(value)
        else:
            again = canonicalize(value).decode("utf-8")
        if again != text:
            raise CanonicalJSONError("text is not in RFC 8785 canonical form")
        return value

    def parse_many(self, texts: Sequence[str]) -> list[Any]:
        """Parse many entry texts; each item is the value, or the :class:`CanonicalJSONError`
        for that text.

        Fast path, for a log of JSON objects: scan each text with the C scanner (each
        must be exactly one object), then re-encode the whole list in one call and
        compare it with the texts joined by commas. Objects are prefix-free (an object
        ends at its matching brace), so equal joined strings mean every text equals its
        own re-encoding. Anything unusual falls back to :meth:`parse` per text.
        """
        joined = "[" + ",".join(texts) + "]"
        if not texts or not _is_bmp_without_surrogates(joined) or _DIGITS_16.search(joined) is not None:
            return [self._one(t) for t in texts]
        self._floats = 0
        scan = self._plain.scan_once  # type: ignore[attr-defined]  # the C scanner
        values: list[Any] = []
        try:
            for t in texts:
                value, end = scan(t, 0)
                if end != len(t) or type(value) is not dict:
                    raise ValueError(t)
                values.append(value)
        except (StopIteration, ValueError):  # JSONDecodeError and ours are ValueErrors
            return [self._one(t) for t in texts]
        if self._floats or self._encode(values) != joined:
            return [self._one(t) for t in texts]
        return values

    def _one(self, text: str) -> Any:
        try:
            return self.parse(text)
        except CanonicalJSONError as exc:
            return exc


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise CanonicalJSONError(f"integer {text} is outside the safe range |n| < 2**53")
    return value


def parse_canonical(text: str) -> Any:
    """Parse ``text`` and check it is exactly the canonical form of its value.

    Returns the parsed value. Raises :class:`CanonicalJSONError` naming the
    reason: not JSON, a value outside our limits, or "not canonical" (different
    key order, whitespace, escapes, number spelling, or duplicate keys). To check
    many texts, use one :class:`CanonicalParser`.
    """
    return CanonicalParser().parse(text)


def is_canonical(text: str) -> bool:
    """Whether ``text`` is RFC 8785 canonical JSON within our limits."""
    try:
        parse_canonical(text)
    except CanonicalJSONError:
        return False
    return True
