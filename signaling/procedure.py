"""The meeting procedure's and the votes' client→server commands (docs/protocol.md,
"Meeting procedure and votes"): typed payloads and their declarations.

The handlers live in ``meetingd`` (``meetingd/procedure_commands.py`` binds them);
see :mod:`signaling.command` for how to add an event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from meeting.errors import InvalidInput
from meeting.quorum import QuorumRule
from meeting.roles import Role
from meeting.speakers import check_limit
from voting.poll import PollConfig
from voting.receipt import check_ballot_id

from .command import Access, command
from .fields import (
    SAFE_INT_MAX,
    boolean,
    member_id,
    optional_positive_int,
    positive_int,
    read_object,
    string_list,
    text,
)
from .messages import Empty

MAX_OPTIONS = 500
MAX_QUEUE = 1000

OFFICERS = Access.roles(Role.CHAIR, Role.SECRETARY)
CHAIR = Access.roles(Role.CHAIR)


@dataclass(frozen=True)
class MemberRef:
    member_id: str

    @classmethod
    def parse(cls, payload: object) -> MemberRef:
        return cls(member_id(read_object(payload, {"member_id"}, {"member_id"})["member_id"]))


@dataclass(frozen=True)
class PollRef:
    poll_id: int

    @classmethod
    def parse(cls, payload: object) -> PollRef:
        return cls(positive_int(read_object(payload, {"poll_id"}, {"poll_id"})["poll_id"], "poll_id"))


@dataclass(frozen=True)
class RoomCode:
    code: str

    @classmethod
    def parse(cls, payload: object) -> RoomCode:
        return cls(text(read_object(payload, {"code"}, {"code"})["code"], "code", 32))


@dataclass(frozen=True)
class Excuse:
    member_id: str
    reason: str

    @classmethod
    def parse(cls, payload: object) -> Excuse:
        p = read_object(payload, {"member_id", "reason"}, {"member_id", "reason"})
        return cls(member_id(p["member_id"]), text(p["reason"], "reason", 500))


@dataclass(frozen=True)
class SetQuorumRule:
    rule: QuorumRule
    stored: str  # the rule as sent, JSON: kept with the meeting's settings

    @classmethod
    def parse(cls, payload: object) -> SetQuorumRule:
        raw = read_object(payload, {"rule"}, {"rule"})["rule"]
        return cls(QuorumRule.from_payload(raw), json.dumps(raw))


@dataclass(frozen=True)
class AgendaPosition:
    position: int

    @classmethod
    def parse(cls, payload: object) -> AgendaPosition:
        p = read_object(payload, {"position"}, {"position"})
        return cls(positive_int(p["position"], "position"))


@dataclass(frozen=True)
class AddMotion:
    text: str
    proposer: str | None  # None: the caller

    @classmethod
    def parse(cls, payload: object) -> AddMotion:
        p = read_object(payload, {"text", "proposer"}, {"text"})
        proposer = member_id(p["proposer"], "proposer") if "proposer" in p else None
        return cls(text(p["text"], "text", 5000), proposer)


@dataclass(frozen=True)
class AddNote:
    text: str

    @classmethod
    def parse(cls, payload: object) -> AddNote:
        return cls(text(read_object(payload, {"text"}, {"text"})["text"], "text", 5000))


@dataclass(frozen=True)
class HandTarget:
    """Whose hand: a member or a site, or (``lower_hand {}`` only) nobody named: one's own."""

    member_id: str | None
    site_id: int | None

    @classmethod
    def parse(cls, payload: object) -> HandTarget:
        p = read_object(payload, {"member_id", "site_id"}, set())
        return cls.exactly_one(p) if p else cls(None, None)

    @classmethod
    def exactly_one(cls, p: dict[str, object]) -> HandTarget:
        if ("member_id" in p) == ("site_id" in p):
            raise InvalidInput("give exactly one of 'member_id' and 'site_id'", field="member_id")
        if "member_id" in p:
            return cls(member_id(p["member_id"]), None)
        return cls(None, positive_int(p["site_id"], "site_id"))


@dataclass(frozen=True)
class FloorTarget(HandTarget):
    """``give_floor``: exactly one of a member or a site."""

    @classmethod
    def parse(cls, payload: object) -> FloorTarget:
        target = HandTarget.exactly_one(read_object(payload, {"member_id", "site_id"}, set()))
        return cls(target.member_id, target.site_id)


@dataclass(frozen=True)
class Reorder:
    order: tuple[str, ...]

    @classmethod
    def parse(cls, payload: object) -> Reorder:
        p = read_object(payload, {"order"}, {"order"})
        return cls(string_list(p["order"], "order", MAX_QUEUE))


@dataclass(frozen=True)
class SpeakingLimitPayload:
    """The chair's speaking-time limit: whole seconds (10 s .. 1 h), or None for none."""

    limit_s: int | None

    @classmethod
    def parse(cls, payload: object) -> SpeakingLimitPayload:
        p = read_object(payload, {"limit_s"}, {"limit_s"})
        return cls(check_limit(p["limit_s"]))


@dataclass(frozen=True)
class CreatePoll:
    config: PollConfig
    stored: str  # the config as sent, JSON: kept with the poll
    motion_id: int | None

    @classmethod
    def parse(cls, payload: object) -> CreatePoll:
        p = read_object(payload, {"config", "motion_id"}, {"config"})
        config = PollConfig.from_payload(p["config"])
        return cls(config, json.dumps(p["config"]), optional_positive_int(p.get("motion_id"), "motion_id"))


@dataclass(frozen=True)
class OpenPoll:
    poll_id: int
    override_quorum: bool

    @classmethod
    def parse(cls, payload: object) -> OpenPoll:
        p = read_object(payload, {"poll_id", "override_quorum"}, {"poll_id"})
        return cls(positive_int(p["poll_id"], "poll_id"), boolean(p, "override_quorum"))


def _option_indices(value: object, name: str) -> tuple[int, ...]:
    """A list of non-negative integers (their range is the poll's to check)."""
    if not isinstance(value, list) or len(value) > MAX_OPTIONS:
        raise InvalidInput(f"'{name}' must be a list of option indices", field=name)
    for x in value:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= SAFE_INT_MAX:
            raise InvalidInput(f"each of '{name}' must be a non-negative integer", field=name)
    return tuple(value)


@dataclass(frozen=True)
class CastBallot:
    """Fully typed before the ballot joins a group commit: a malformed field is this
    caller's ``invalid_input``, never a failure of the batch."""

    poll_id: int
    ballot_id: str
    choices: tuple[int, ...]
    replaces: str | None

    @classmethod
    def parse(cls, payload: object) -> CastBallot:
        p = read_object(
            payload, {"poll_id", "ballot_id", "choices", "replaces"}, {"poll_id", "ballot_id", "choices"}
        )
        replaces = p.get("replaces")
        return cls(
            positive_int(p["poll_id"], "poll_id"),
            check_ballot_id(p["ballot_id"]),
            _option_indices(p["choices"], "choices"),
            None if replaces is None else check_ballot_id(replaces, field="replaces"),
        )


@dataclass(frozen=True)
class HandCount:
    poll_id: int
    counts: tuple[int, ...]

    @classmethod
    def parse(cls, payload: object) -> HandCount:
        p = read_object(payload, {"poll_id", "counts"}, {"poll_id", "counts"})
        return cls(positive_int(p["poll_id"], "poll_id"), _option_indices(p["counts"], "counts"))


# -- the declarations (docs/protocol.md, "Meeting procedure and votes") -----------------------

GET_PROCEDURE = command("get_procedure", Empty, Access.anyone(), "read the procedure's state")
GET_POLL_STATE = command("get_poll_state", PollRef, Access.anyone(), "read a poll")
GET_ROOM_CODE = command("get_room_code", Empty, OFFICERS, "show the room code")
CHECK_IN = command(
    "check_in",
    MemberRef,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.OPERATOR),
    "check a member in",
    also="an operator: at their own site",
)
CHECK_OUT = command(
    "check_out",
    MemberRef,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.OPERATOR),
    "check a member out",
    also="an operator: members checked in at their site",
)
CHECK_IN_WITH_CODE = command(
    "check_in_with_code",
    RoomCode,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.MEMBER, Role.OBSERVER),
    "check oneself in with the room code",
)
EXCUSE = command("excuse", Excuse, OFFICERS, "record an excused absence")
SET_QUORUM_RULE = command("set_quorum_rule", SetQuorumRule, CHAIR, "set the quorum rule")
SET_AGENDA_ITEM = command("set_agenda_item", AgendaPosition, CHAIR, "move through the agenda")
ADD_MOTION = command("add_motion", AddMotion, OFFICERS, "add a motion")
ADD_NOTE = command("add_note", AddNote, OFFICERS, "write a minute note")
RAISE_HAND = command(
    "raise_hand", Empty, Access.anyone(), "ask for the floor", also="voting members; an operator for the site"
)
LOWER_HAND = command(
    "lower_hand", HandTarget, Access.anyone(), "lower a hand", also="someone else's: the chair"
)
GIVE_FLOOR = command("give_floor", FloorTarget, CHAIR, "give the floor")
END_SPEECH = command("end_speech", Empty, Access.anyone(), "end a speech", also="someone else's: the chair")
REORDER_QUEUE = command("reorder_queue", Reorder, CHAIR, "reorder the list of speakers")
SET_SPEAKING_LIMIT = command("set_speaking_limit", SpeakingLimitPayload, CHAIR, "set the speaking time")
CREATE_POLL = command("create_poll", CreatePoll, CHAIR, "create a poll")
OPEN_POLL = command("open_poll", OpenPoll, CHAIR, "open a poll")
CLOSE_POLL = command("close_poll", PollRef, CHAIR, "close a poll")
CAST_BALLOT = command(
    "cast_ballot",
    CastBallot,
    Access.anyone(),
    "cast a ballot",
    also="voting members present, active membership",
)
RECORD_HAND_COUNT = command(
    "record_hand_count",
    HandCount,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.OPERATOR),
    "record a hand count",
    also="an operator: for their site",
)
