"""Threshold trustees on the server: the deputy, and the trustees' key generation.

By default the trustees of a meeting's secret polls are its chair and secretary, each
posting a key share (n-of-n, :mod:`meetingd.e2e_polls`). When the chair names a deputy
(``name_deputy_trustee``), a round of distributed key generation starts for the chair,
the secretary and the deputy (``voting.e2e.dkg``: any 2 of the 3 decrypt). The server
only relays and checks: every step a trustee's device posts (``post_dkg_step``) is
verified by :class:`~voting.e2e.dkg.DkgRound`, stored (``e2e_dkg_steps``), written to
the minutes and broadcast (``e2e_dkg_progress``) so the other devices take the next
step; a refused step from a trustee is a minutes fact (``e2e_dkg_refused``). A trustee's
secrets never reach the server: encrypted shares travel through it to their recipient.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meeting.attendance import Person
from meeting.errors import InvalidInput, InvalidState, MeetingError
from meeting.roles import Role
from signaling.e2e import NameDeputyTrustee, PostDkgStep
from voting.e2e.dkg import THRESHOLD, DkgRound, Phase, apply_step

from .journal import JournalTx
from .procedure_state import Live, PollHost, require_open
from .storage.e2e_models import E2EDkgStepRow

logger = logging.getLogger(__name__)

OFFICER_TRUSTEES = (Role.CHAIR, Role.SECRETARY)


def officer_trustees(live: Live) -> list[str]:
    """The meeting's chair(s) and secretary(ies), by member id."""
    return sorted(p.member_id for p in live.register.people if p.role in OFFICER_TRUSTEES)


class E2ETrustees:
    """The current key-generation round of each meeting (``None``: no deputy, n-of-n)."""

    def __init__(self, proc: PollHost) -> None:
        self.proc = proc
        self.rounds: dict[int, DkgRound | None] = {}
        self.last_round: dict[int, int] = {}
        self.history: dict[int, dict[int, DkgRound]] = {}
        """Every round with a deputy, by number (a poll decrypts under the round it opened with)."""

    async def load(self, s: AsyncSession, live: Live) -> None:
        """Replay the meeting's stored steps (each re-checked) into its current round."""
        mid = live.meeting_id
        self.rounds[mid] = None
        self.last_round[mid] = 0
        self.history[mid] = {}
        rows = (
            await s.scalars(
                select(E2EDkgStepRow).where(E2EDkgStepRow.meeting_id == mid).order_by(E2EDkgStepRow.id)
            )
        ).all()
        for row in rows:
            data = json.loads(row.data)
            self.last_round[mid] = max(self.last_round[mid], row.round)
            if row.step == "named":
                named = (
                    None
                    if data["deputy"] is None
                    else DkgRound(str(mid), row.round, tuple(data["trustees"]), data["threshold"])
                )
                self.rounds[mid] = named
                if named is not None:
                    self.history[mid][row.round] = named
                continue
            r = self.rounds[mid]
            if r is not None and r.round == row.round:
                apply_step(r, row.trustee_id, row.step, data)

    def current(self, live: Live) -> DkgRound | None:
        return self.rounds.get(live.meeting_id)

    def deputy(self, live: Live) -> str | None:
        r = self.current(live)
        return r.trustees[-1] if r is not None else None

    def view(self, live: Live, round_: int | None = None) -> dict[str, Any] | None:
        """The ``dkg`` part of ``get_e2e``: everything public about the current round
        (or the numbered one)."""
        r = self.current(live) if round_ is None else self.history.get(live.meeting_id, {}).get(round_)
        if r is None:
            return None
        return {
            "round": r.round,
            "trustees": list(r.trustees),
            "threshold": r.threshold,
            "phase": r.phase.value,
            "failed_by": r.failed_by,
            "keys": [r.keys[t].to_dict() for t in r.trustees if t in r.keys],
            "dealings": [r.dealings[t].to_dict() for t in r.trustees if t in r.dealings],
            "confirmed": [t for t in r.trustees if t in r.confirmed],
            "complete": r.complete() if r.phase is Phase.COMPLETE else None,
        }

    def missing(self, live: Live) -> list[str]:
        """Who the current round waits for (empty when complete)."""
        r = self.current(live)
        if r is None or r.phase is Phase.COMPLETE:
            return []
        if r.phase is Phase.KEYS:
            return [t for t in r.trustees if t not in r.keys]
        if r.phase is Phase.DEALINGS:
            return [t for t in r.trustees if t not in r.dealings]
        return [t for t in r.trustees if t not in r.confirmed]

    # -- commands ---------------------------------------------------------------------------------

    async def name_deputy(self, live: Live, caller: Person, p: NameDeputyTrustee) -> dict[str, Any]:
        officers = officer_trustees(live)
        if p.member_id is not None:
            person = live.register.get(p.member_id)
            if person is None or person.role is not Role.MEMBER:
                raise InvalidInput(
                    "the deputy trustee must be a voting member of this meeting (not an officer)",
                    code="not_eligible_trustee",
                    field="member_id",
                )
        mid = live.meeting_id
        round_ = self.last_round.get(mid, 0) + 1
        trustees = [*officers, p.member_id] if p.member_id is not None else officers
        new = DkgRound(str(mid), round_, tuple(trustees), THRESHOLD) if p.member_id is not None else None
        fields = {"trustees": trustees, "threshold": THRESHOLD if new else None, "deputy": p.member_id}

        async def work(tx: JournalTx) -> None:
            await require_open(tx, mid)
            tx.session.add(
                E2EDkgStepRow(
                    meeting_id=mid, round=round_, step="named", trustee_id="", data=json.dumps(fields)
                )
            )
            tx.record("e2e_trustees_named", round=round_, by=caller.member_id, **fields)
            self.rounds[mid] = new
            self.last_round[mid] = round_
            if new is not None:
                self.history.setdefault(mid, {})[round_] = new

        await self.proc.transaction(live, work)
        logger.info("meeting=%s trustees named round=%s deputy=%s", mid, round_, p.member_id)
        await self._progress(live)
        return {"dkg": self.view(live)}

    async def post_step(self, live: Live, caller: Person, p: PostDkgStep) -> dict[str, Any]:
        mid = live.meeting_id
        refused: list[tuple[DkgRound, MeetingError]] = []
        done: list[DkgRound] = []

        async def work(tx: JournalTx) -> None:
            await require_open(tx, mid)
            # under the meeting's journal lock: steps posted at once by several devices
            # each apply to the round as the one before left it
            r = self.current(live)
            if r is None or r.round != p.round:
                raise InvalidState("this is not the current key generation round", code="dkg_round_unknown")
            probe = r.copy()
            try:
                fields = apply_step(probe, caller.member_id, p.step, p.data)
            except MeetingError as exc:
                refused.append((r, exc))
                raise
            tx.session.add(
                E2EDkgStepRow(
                    meeting_id=mid,
                    round=r.round,
                    step=p.step,
                    trustee_id=caller.member_id,
                    data=json.dumps(p.data),
                )
            )
            kind = "e2e_dkg_confirmation" if p.step == "confirmation" else f"e2e_dkg_{p.step}"
            tx.record(kind, round=r.round, **fields)
            if probe.phase is Phase.COMPLETE:
                tx.record("e2e_dkg_complete", **probe.complete())
            self.rounds[mid] = probe
            self.history.setdefault(mid, {})[probe.round] = probe
            done.append(probe)

        try:
            await self.proc.transaction(live, work)
        except MeetingError:
            for r, exc in refused:
                await self._refused(live, r, caller, p.step, exc)
            raise
        probe = done[0]
        logger.info("meeting=%s dkg round=%s step=%s trustee=%s", mid, probe.round, p.step, caller.member_id)
        if probe.failed_by is not None:
            logger.warning(
                "meeting=%s dkg round=%s failed: bad share from %s", mid, probe.round, probe.failed_by
            )
        await self._progress(live)
        return {"dkg": self.view(live)}

    async def _refused(self, live: Live, r: DkgRound, caller: Person, step: str, exc: MeetingError) -> None:
        """A trustee's refused step is a fact of the meeting (not a stranger's)."""
        if caller.member_id not in r.trustees:
            return

        async def work(tx: JournalTx) -> None:
            tx.record(
                "e2e_dkg_refused",
                round=r.round,
                by=caller.member_id,
                step=step,
                error=exc.code,
                field=exc.details.get("field"),
                trustee=exc.details.get("trustee"),
            )

        await self.proc.transaction(live, work)
        logger.warning(
            "meeting=%s dkg round=%s step=%s refused by=%s error=%s",
            live.meeting_id,
            r.round,
            step,
            caller.member_id,
            exc.code,
        )

    async def _progress(self, live: Live) -> None:
        r = self.current(live)
        await self.proc.emit(
            live.meeting_id,
            "e2e_dkg_progress",
            {
                "round": r.round if r else self.last_round.get(live.meeting_id, 0),
                "phase": r.phase.value if r else None,
                "failed_by": r.failed_by if r else None,
                "waiting_for": self.missing(live),
            },
        )

    def require_complete(self, live: Live) -> DkgRound:
        r = self.current(live)
        if r is None or r.phase is not Phase.COMPLETE:
            missing = self.missing(live)
            raise InvalidState(
                f"waiting for the trustees' key generation ({', '.join(missing) or 'a new round'})",
                code="e2e_key_incomplete",
                missing=missing,
            )
        return r
