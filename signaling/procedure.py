"""Socket.IO events of the meeting procedure and votes (docs/protocol.md, "Meeting
procedure and votes").

Each event's payload is parsed here into plain typed values (unknown fields, missing
fields and wrong types are ``invalid_input``) and handed to a :class:`ProcedureBackend`
(implemented in ``meetingd``), whose answer is the ack. The backend broadcasts facts
itself, coalescing the frequent ones (tallies, attendance counts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from meeting.errors import InvalidInput

from .e2e import E2E_EVENTS
from .messages import _int, _object
from .namespace import Connection, MeetingNamespace

MEMBER_ID_MAX = 32


class ProcedureBackend(Protocol):
    async def call(
        self, meeting_id: int, member_id: str, action: str, args: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def snapshot(self, meeting_id: int, member_id: str) -> dict[str, Any]: ...


def _member_id(p: dict[str, Any], name: str = "member_id") -> str:
    value = p[name]
    if not isinstance(value, str) or not value or len(value) > MEMBER_ID_MAX:
        raise InvalidInput(f"'{name}' must be a member id", field=name)
    return value


def _bool(p: dict[str, Any], name: str, default: bool = False) -> bool:
    value = p.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"'{name}' must be true or false", field=name)
    return value


def _str(p: dict[str, Any], name: str, max_len: int) -> str:
    value = p[name]
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidInput(f"'{name}' must be 1-{max_len} characters", field=name)
    return value


def _target(p: dict[str, Any]) -> dict[str, Any]:
    """Exactly one of member_id / site_id."""
    if ("member_id" in p) == ("site_id" in p):
        raise InvalidInput("give exactly one of 'member_id' and 'site_id'", field="member_id")
    if "member_id" in p:
        return {"member_id": _member_id(p), "site_id": None}
    return {"member_id": None, "site_id": _int(p["site_id"], "site_id")}


Parser = Callable[[object], dict[str, Any]]


def _empty(payload: object) -> dict[str, Any]:
    _object(payload, set(), set())
    return {}


def _member(payload: object) -> dict[str, Any]:
    return {"member_id": _member_id(_object(payload, {"member_id"}, {"member_id"}))}


def _poll_id(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id"}, {"poll_id"})
    return {"poll_id": _int(p["poll_id"], "poll_id")}


def _check_in_with_code(payload: object) -> dict[str, Any]:
    return {"code": _str(_object(payload, {"code"}, {"code"}), "code", 32)}


def _excuse(payload: object) -> dict[str, Any]:
    p = _object(payload, {"member_id", "reason"}, {"member_id", "reason"})
    return {"member_id": _member_id(p), "reason": _str(p, "reason", 500)}


def _set_quorum_rule(payload: object) -> dict[str, Any]:
    return {"rule": _object(payload, {"rule"}, {"rule"})["rule"]}  # parsed by QuorumRule


def _set_agenda_item(payload: object) -> dict[str, Any]:
    p = _object(payload, {"position"}, {"position"})
    return {"position": _int(p["position"], "position")}


def _add_motion(payload: object) -> dict[str, Any]:
    p = _object(payload, {"text", "proposer"}, {"text"})
    return {"text": _str(p, "text", 5000), "proposer": _member_id(p, "proposer") if "proposer" in p else None}


def _add_note(payload: object) -> dict[str, Any]:
    return {"text": _str(_object(payload, {"text"}, {"text"}), "text", 5000)}


def _lower_hand(payload: object) -> dict[str, Any]:
    p = _object(payload, {"member_id", "site_id"}, set())
    return _target(p) if p else {"member_id": None, "site_id": None}


def _give_floor(payload: object) -> dict[str, Any]:
    return _target(_object(payload, {"member_id", "site_id"}, set()))


def _reorder(payload: object) -> dict[str, Any]:
    p = _object(payload, {"order"}, {"order"})
    order = p["order"]
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
        raise InvalidInput("'order' must be a list of entry ids", field="order")
    return {"order": order}


def _create_poll(payload: object) -> dict[str, Any]:
    p = _object(payload, {"config", "motion_id"}, {"config"})
    motion = p.get("motion_id")
    return {
        "config": p["config"],  # parsed by PollConfig.from_payload
        "motion_id": None if motion is None else _int(motion, "motion_id"),
    }


def _open_poll(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "override_quorum"}, {"poll_id"})
    return {"poll_id": _int(p["poll_id"], "poll_id"), "override_quorum": _bool(p, "override_quorum")}


def _cast_ballot(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "ballot_id", "choices", "replaces"}, {"poll_id", "ballot_id", "choices"})
    # ballot_id / choices / replaces are checked by the ballot box (precise codes)
    return {
        "poll_id": _int(p["poll_id"], "poll_id"),
        "ballot_id": p["ballot_id"],
        "choices": p["choices"],
        "replaces": p.get("replaces"),
    }


def _hand_count(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "counts"}, {"poll_id", "counts"})
    counts = p["counts"]
    if not isinstance(counts, list) or len(counts) > 500:
        raise InvalidInput("'counts' must be a list with one number per option", field="counts")
    return {"poll_id": _int(p["poll_id"], "poll_id"), "counts": counts}


EVENTS: dict[str, Parser] = {
    "get_procedure": _empty,
    "get_poll_state": _poll_id,
    "get_room_code": _empty,
    "check_in": _member,
    "check_out": _member,
    "check_in_with_code": _check_in_with_code,
    "excuse": _excuse,
    "set_quorum_rule": _set_quorum_rule,
    "set_agenda_item": _set_agenda_item,
    "add_motion": _add_motion,
    "add_note": _add_note,
    "raise_hand": _empty,
    "lower_hand": _lower_hand,
    "give_floor": _give_floor,
    "end_speech": _empty,
    "reorder_queue": _reorder,
    "create_poll": _create_poll,
    "open_poll": _open_poll,
    "close_poll": _poll_id,
    "cast_ballot": _cast_ballot,
    "record_hand_count": _hand_count,
    **E2E_EVENTS,
}


def register_procedure(namespace: MeetingNamespace, backend: ProcedureBackend) -> None:
    """Register every procedure event, and add the ``procedure`` snapshot to ``join``."""

    def handler(action: str, parse: Parser) -> Callable[[str, Connection, Any], Awaitable[dict[str, Any]]]:
        async def handle(sid: str, conn: Connection, data: Any) -> dict[str, Any]:
            args = parse(data)
            assert conn.meeting_id is not None
            return await backend.call(conn.meeting_id, conn.member.member_id, action, args)

        return handle

    for event, parse in EVENTS.items():
        namespace.register(event, handler(event, parse))

    async def join_extra(meeting_id: int, conn: Connection) -> dict[str, Any]:
        return {"procedure": await backend.snapshot(meeting_id, conn.member.member_id)}

    namespace.add_join_extra(join_extra)
