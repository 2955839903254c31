"""Binds the procedure's and the votes' commands (declared in :mod:`signaling.procedure`)
to their handlers in :class:`~meetingd.procedure.Procedure` and
:class:`~meetingd.ballots.Ballots`.

A handler here takes ``(live, caller, payload)``: the meeting's live state, the caller
as the attendance register knows them, and the typed payload. To add a procedure
event: declare it in signaling/procedure.py, write the handler, add one ``on(...)``
line below (see :mod:`signaling.command` for the whole recipe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from meeting.attendance import Person
from signaling import e2e as e2e_cmd
from signaling import procedure as cmd
from signaling.command import Command, Payload
from signaling.namespace import Call, Connection, MeetingNamespace
from signaling.security import STEP_UP_EVENTS, SecurityHooks, guard

from .procedure import Procedure
from .procedure_state import Live

P = TypeVar("P", bound=Payload)
ProcedureHandler = Callable[[Live, Person, P], Awaitable[dict[str, Any]]]


class Router(Protocol):
    """Several nodes (meetingd.cluster.routing): runs a command at the meeting's owner."""

    def add(self, command: Command[P], handler: ProcedureHandler[P]) -> None: ...

    async def route(self, name: str, meeting_id: int, member_id: str, data: Any) -> dict[str, Any] | None:
        """The owner's answer, or None when this node owns the meeting (run it here)."""
        ...

    async def snapshot(self, meeting_id: int, member_id: str) -> dict[str, Any]: ...


def bind_procedure(
    namespace: MeetingNamespace,
    procedure: Procedure,
    security: SecurityHooks | None = None,
    router: Router | None = None,
) -> None:
    """Bind every procedure command, and add the ``procedure`` snapshot to ``join``.
    With ``security``, the commands of ``signaling.security.STEP_UP_EVENTS`` need a
    recent second factor (step-up) first. With ``router``, a command for a meeting
    another node owns runs there (its payload forwarded as sent)."""

    def on(command: Command[P], handler: ProcedureHandler[P]) -> None:
        async def run(call: Call, payload: P) -> dict[str, Any]:
            if call.conn.display_meeting is not None:  # a paired display reads the public state
                return {"procedure": await procedure.snapshot(call.meeting_id, call.member_id)}
            if router is not None:
                forwarded = await router.route(command.name, call.meeting_id, call.member_id, call.data)
                if forwarded is not None:
                    return forwarded
            live = await procedure.live(call.meeting_id)
            return await handler(live, live.register.person(call.member_id), payload)

        if router is not None:
            router.add(command, handler)

        if security is not None and command.name in STEP_UP_EVENTS:
            namespace.handle(command, guard(command, run, security))
        else:
            namespace.handle(command, run)

    ballots = procedure.ballots
    on(cmd.GET_PROCEDURE, procedure.get_procedure)
    on(cmd.GET_POLL_STATE, ballots.get_poll_state)
    on(cmd.GET_ROOM_CODE, procedure.get_room_code)
    on(cmd.CHECK_IN, procedure.check_in)
    on(cmd.CHECK_OUT, procedure.check_out)
    on(cmd.CHECK_IN_WITH_CODE, procedure.check_in_with_code)
    on(cmd.EXCUSE, procedure.excuse)
    on(cmd.SET_QUORUM_RULE, procedure.set_quorum_rule)
    on(cmd.SET_AGENDA_ITEM, procedure.set_agenda_item)
    on(cmd.ADD_MOTION, procedure.add_motion)
    on(cmd.ADD_NOTE, procedure.add_note)
    on(cmd.RAISE_HAND, procedure.raise_hand)
    on(cmd.LOWER_HAND, procedure.lower_hand)
    on(cmd.GIVE_FLOOR, procedure.give_floor)
    on(cmd.END_SPEECH, procedure.end_speech)
    on(cmd.REORDER_QUEUE, procedure.reorder_queue)
    on(cmd.SET_SPEAKING_LIMIT, procedure.set_speaking_limit)
    on(cmd.CREATE_POLL, ballots.create)
    on(cmd.OPEN_POLL, ballots.open)
    on(cmd.CLOSE_POLL, ballots.close_poll)
    on(cmd.CAST_BALLOT, ballots.cast)
    on(cmd.RECORD_HAND_COUNT, ballots.hand_count)
    on(e2e_cmd.GET_E2E, ballots.e2e.get_e2e)
    on(e2e_cmd.POST_TRUSTEE_KEY, ballots.e2e.post_key)
    on(e2e_cmd.CAST_ENCRYPTED_BALLOT, ballots.cast_encrypted)
    on(e2e_cmd.POST_PARTIAL_DECRYPTION, ballots.e2e.post_decryption)
    on(e2e_cmd.POST_KEY_STATEMENT, ballots.e2e.post_statement)
    on(e2e_cmd.NAME_DEPUTY_TRUSTEE, ballots.e2e.trustees.name_deputy)
    on(e2e_cmd.POST_DKG_STEP, ballots.e2e.trustees.post_step)

    async def join_extra(meeting_id: int, conn: Connection) -> dict[str, Any]:
        snapshot = router.snapshot if router is not None else procedure.snapshot
        return {"procedure": await snapshot(meeting_id, conn.member.member_id)}

    namespace.add_join_extra(join_extra)
