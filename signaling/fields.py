"""Field readers for client payloads: each returns the typed value or raises
``invalid_input`` naming the field.

Payload classes (``parse`` classmethods, see :mod:`signaling.command`) are built from
these, so every event refuses the same things the same way: unknown or missing fields,
wrong JSON types, booleans where numbers are meant, floats (and NaN) where integers
are meant, integers outside ``1..2**53-1``, blank or over-long text.
"""

from __future__ import annotations

from typing import Any

from meeting.errors import InvalidInput

MEMBER_ID_MAX = 32
SAFE_INT_MAX = 2**53 - 1  # what a browser's Number holds exactly


def read_object(payload: object, allowed: set[str], required: set[str]) -> dict[str, Any]:
    """The payload as a JSON object with only ``allowed`` keys and all ``required`` ones.
    A missing payload (``None``) is the empty object."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field '{unknown[0]}'", field=unknown[0])
    for name in sorted(required):
        if name not in payload:
            raise InvalidInput(f"missing field '{name}'", field=name)
    return payload


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= SAFE_INT_MAX:
        raise InvalidInput(f"'{name}' must be a positive integer", field=name)
    return value


def optional_positive_int(value: object, name: str) -> int | None:
    return None if value is None else positive_int(value, name)


def boolean(p: dict[str, Any], name: str, default: bool = False) -> bool:
    value = p.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be true or false", field=name)
    return value


def member_id(value: object, name: str = "member_id") -> str:
    if not isinstance(value, str) or not value or len(value) > MEMBER_ID_MAX:
        raise InvalidInput(f"'{name}' must be a member id", field=name)
    return value


def text(value: object, name: str, max_len: int) -> str:
    """A non-blank string of at most ``max_len`` characters (kept as sent)."""
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidInput(f"'{name}' must be 1-{max_len} characters", field=name)
    return value


def string_list(value: object, name: str, max_items: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > max_items or not all(isinstance(x, str) for x in value):
        raise InvalidInput(f"'{name}' must be a list of at most {max_items} strings", field=name)
    return tuple(value)
