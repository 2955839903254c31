"""A client→server Socket.IO event, declared once: name, typed payload, who may send it.

Every event a client can send is a :class:`Command`, made by :func:`command` in the
module of its area (``signaling/messages.py``, ``signaling/procedure.py``,
``signaling/media_commands.py``); :mod:`signaling.commands` imports every area and
lists them all (a new area module joins its ``AREAS``). The namespace
(:meth:`signaling.namespace.MeetingNamespace.handle`) binds each command to one handler
with typed arguments; start-up fails if a declared command has no handler
(:meth:`~signaling.namespace.MeetingNamespace.check_complete`), and a test checks that
the registry, the handlers and docs/protocol.md agree.

How to add an event
-------------------

1. **Payload.** A frozen dataclass with a ``parse(cls, payload: object)`` classmethod
   that reads a JSON object with :func:`signaling.fields.read_object` and the field
   readers beside it (unknown fields, missing fields and wrong types are
   ``invalid_input`` naming the field). Put it next to the area's other payloads; reuse
   one that fits (``Empty``, ``MemberRef``, ``PollRef``, ...).
2. **Declaration.** In the same module::

       CHECK_IN = command("check_in", MemberRef, Access.anyone(), "check a member in")

   ``Access`` says who may send it: :meth:`Access.connected` (before ``join``; only
   ``join`` itself), :meth:`Access.anyone` (any participant of the joined meeting) or
   :meth:`Access.roles` (``Access.roles(Role.CHAIR)``; officers are
   ``Access.roles(Role.CHAIR, Role.SECRETARY)``). The namespace enforces it before the
   handler runs (``not_authorised``: "only the chair may <doc>"). Finer rules that
   depend on the payload (someone else's hand, an operator's own site) stay in the
   handler or the core, and the declaration says so in ``also``.
3. **Handler.** An ``async def`` taking ``(call: Call, payload: <your payload class>)``
   and returning the ack's fields (a dict; ``ok: true`` is added) or raising a
   :class:`meeting.errors.MeetingError`. Bind it where the area binds its others:
   ``namespace.handle(CHECK_IN, handler)`` (for the procedure, in
   ``meetingd/procedure_commands.py``). mypy checks that the handler takes the
   declared payload class.
4. **Documentation.** Describe it in docs/protocol.md under its area, and regenerate
   the command table there: ``python -m signaling.commands`` prints it
   (``tests/integration/test_protocol_doc.py`` fails until the table matches).

Never dispatch on a client string any other way (no ``getattr``, no if-chains): an
event with no declaration has no handler, and the server answers it ``unknown_event``
(signaling/server.py). Before the payload reaches ``parse`` the dispatcher has refused
what no payload may hold (:func:`signaling.wire_json.check_value`: deep nesting, huge
integers, NaN, lone surrogates), so a parser only checks its own fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from meeting.roles import Role

__all__ = ["Access", "Command", "Payload", "command", "registered"]


class Payload(Protocol):
    """A typed payload: parsed from the client's JSON or refused with ``invalid_input``."""

    @classmethod
    def parse(cls, payload: object) -> Self: ...


P = TypeVar("P", bound=Payload)

_ROLE_NAMES = {
    Role.CHAIR: "the chair",
    Role.SECRETARY: "the secretary",
    Role.MEMBER: "a member",
    Role.OBSERVER: "an observer",
    Role.OPERATOR: "a site operator",
}


@dataclass(frozen=True)
class Access:
    """Who may send a command. ``allowed_roles`` empty: every participant of the meeting."""

    joined: bool = True
    allowed_roles: frozenset[Role] = frozenset()

    @classmethod
    def connected(cls) -> Access:
        """Any authenticated connection, before ``join``."""
        return cls(joined=False)

    @classmethod
    def anyone(cls) -> Access:
        """Any participant of the meeting the connection has joined."""
        return cls()

    @classmethod
    def roles(cls, *roles: Role) -> Access:
        """Participants with one of these meeting roles."""
        return cls(allowed_roles=frozenset(roles))

    def allows(self, role: Role) -> bool:
        return not self.allowed_roles or role in self.allowed_roles

    def describe(self) -> str:
        if not self.joined:
            return "any signed-in connection"
        if not self.allowed_roles:
            return "any participant"
        names = [_ROLE_NAMES[r] for r in sorted(self.allowed_roles, key=list(Role).index)]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True)
class Command(Generic[P]):
    """One client→server event. ``doc`` is a verb phrase ("give the floor"): it names the
    command in the protocol table and in refusals ("only the chair may give the floor")."""

    name: str
    payload: type[P]
    access: Access
    doc: str
    also: str = ""  # a finer rule the handler or the core applies, for the docs

    def parse(self, data: object) -> P:
        return self.payload.parse(data)


_REGISTRY: dict[str, Command[Any]] = {}


def command(name: str, payload: type[P], access: Access, doc: str, *, also: str = "") -> Command[P]:
    """Declare a command (once: a second declaration of ``name`` is a programming error)."""
    if name in _REGISTRY:
        raise ValueError(f"command {name!r} is declared twice")
    cmd = Command(name, payload, access, doc, also)
    _REGISTRY[name] = cmd
    return cmd


def registered(names: Iterable[str] | None = None) -> list[Command[Any]]:
    """Every declared command, in declaration order (or the ones named)."""
    if names is None:
        return list(_REGISTRY.values())
    return [_REGISTRY[n] for n in names]
