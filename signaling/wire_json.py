"""JSON as the server reads it from clients, over Socket.IO and HTTP alike.

Python's decoder takes things no client payload may hold, and chokes on others:

* integers of any size (``10**400``) — engine.io's own decoder refuses more than 100
  digits by raising, and the packet is then dropped with no ack;
* ``NaN`` / ``Infinity``, which are not JSON;
* strings with lone UTF-16 surrogates (``"\\ud800"``), which cannot be stored or sent on;
* nesting deep enough to exhaust the recursion limit (the packet is dropped again).

:func:`loads` is the decoder python-socketio uses for every packet
(``socketio.AsyncServer(json=wire_json)``) and the HTTP adapter for every body. It never
drops an event: what it cannot decode becomes an :class:`Undecodable` payload for the
event it was meant for, which the command dispatcher answers with ``invalid_input``
through the ack. :func:`check_value` then refuses, naming the field, every value a
payload may not hold. Only a packet that is not a Socket.IO event at all (no event
name to answer) is still refused by raising; the server logs it and the client gets
a ``protocol_error`` event (see :mod:`signaling.server`).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput

__all__ = [
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "Encoded",
    "OversizedInt",
    "Undecodable",
    "check_value",
    "dumps",
    "loads",
]

MAX_DEPTH = 32  # nested objects/arrays; the deepest real payload (a poll config) has 4
MAX_INT_DIGITS = 100
# The start of a Socket.IO event's data: ["event_name", ...
_EVENT = re.compile(r'\s*\[\s*"([A-Za-z0-9_]{1,64})"\s*[,\]]')

# What stands in for an Encoded value while the packet around it is encoded: a string no
# payload can hold by chance (a NUL and 16 random bytes of this process).
_MARK = f"\x00wire-json-{secrets.token_hex(16)}-"


class Encoded:
    """A value encoded as JSON once, spliced as-is into every packet that carries it.

    A join ack carries the meeting's roster: in a storm of n joins that was n encodings
    of up to n seats (3 ms at 1,000 seats, with the dicts built for it). The namespace
    keeps one per roster tick and every join of that tick sends the same text.
    """

    __slots__ = ("text",)

    def __init__(self, value: Any) -> None:
        self.text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def __repr__(self) -> str:
        return f"Encoded({len(self.text)} chars)"


def dumps(obj: Any, **kwargs: Any) -> str:
    """:func:`json.dumps`, with each :class:`Encoded` value spliced in as its text."""
    fragments: list[str] = []
    user_default = kwargs.pop("default", None)

    def default(o: Any) -> Any:
        if isinstance(o, Encoded):
            fragments.append(o.text)
            return f"{_MARK}{len(fragments) - 1}"
        if user_default is not None:
            return user_default(o)
        raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

    out = json.dumps(obj, default=default, **kwargs)
    ascii_only = kwargs.get("ensure_ascii", True)
    for i, text in enumerate(fragments):
        mark = json.dumps(f"{_MARK}{i}", ensure_ascii=ascii_only)
        if out.count(mark) != 1:  # a string of the payload is the mark: encode it all in place

            def expand(o: Any) -> Any:
                return json.loads(o.text) if isinstance(o, Encoded) else default(o)

            return json.dumps(obj, default=expand, **kwargs)
        out = out.replace(mark, text, 1)
    return out


@dataclass(frozen=True)
class OversizedInt:
    """An integer literal with more than :data:`MAX_INT_DIGITS` digits, kept undecoded."""

    digits: int


@dataclass(frozen=True)
class Undecodable:
    """A payload the decoder could not read (``reason`` says why)."""

    reason: str


def _parse_int(literal: str) -> int | OversizedInt:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        return OversizedInt(len(literal))
    return int(literal)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Decode like :func:`json.loads`, with oversized integers kept as
    :class:`OversizedInt`; an event whose payload cannot be decoded at all becomes
    ``[event, Undecodable(reason)]``."""
    kwargs.setdefault("parse_int", _parse_int)
    try:
        return json.loads(s, **kwargs)
    except RecursionError:
        reason = f"nested deeper than {MAX_DEPTH} levels"
    except ValueError as exc:
        reason = f"not valid JSON ({exc})"
    text = s.decode("utf-8", "replace") if isinstance(s, bytes | bytearray) else s
    m = _EVENT.match(text)
    if m is None:
        raise ValueError(reason)
    return [m.group(1), Undecodable(reason)]


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def check_value(value: object, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse (``invalid_input`` naming the field) what no payload may hold: an
    undecodable payload, nesting deeper than ``max_depth``, an oversized integer, a
    non-finite number, a lone surrogate in a string or a key. Iterative: any depth."""
    if isinstance(value, Undecodable):
        raise InvalidInput(f"payload could not be read: {value.reason}")
    stack: list[tuple[object, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                _refuse(f"'{where or 'payload'}' is nested deeper than {max_depth} levels", where)
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str):
                        _check_text(key, _path(where, key))
                    stack.append((child, _path(where, str(key)), depth + 1))
            else:
                stack.extend((child, _path(where, i), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, OversizedInt):
            _refuse(f"'{where or 'payload'}' is a number with more than {MAX_INT_DIGITS} digits", where)
        elif isinstance(item, float) and not math.isfinite(item):
            _refuse(f"'{where or 'payload'}' must be a finite number", where)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        _refuse(f"'{where or 'payload'}' holds an unpaired UTF-16 surrogate", where)


def _refuse(message: str, where: str) -> None:
    """``field`` is the top-level field (what the readers name); ``path`` the exact spot."""
    if not where:
        raise InvalidInput(message)
    top = re.split(r"[.\[]", where, maxsplit=1)[0]
    raise InvalidInput(message, field=top, path=where)
