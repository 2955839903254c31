"""Member e-profiles over the organisation log: read (recorded), change (attributed, checked)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import InvalidInput, NotAuthorised, NotFound
from meeting.organisation import OrgTree, Viewer
from meeting.profile import FIELDS, check_edit, fold_profile, may_read, parse_change

from ..security.events import EventSink
from ..storage.models import Member
from .figures import Figures
from .org import load_tree, viewer_of
from .org_log import OrgLog

MAX_REASON = 500
READS_SHOWN = 50


def check_reason(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("reason must say why the change is made", field="reason")
    if len(value) > MAX_REASON:
        raise InvalidInput(f"reason must be at most {MAX_REASON} characters", field="reason")
    return value.strip()


class Profiles:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        log: OrgLog,
        figures: Figures,
        events: EventSink | None = None,
    ) -> None:
        self._db, self._log, self._figures, self._events = db, log, figures, events

    async def _context(self, caller: Member, member_id: str) -> tuple[OrgTree, Viewer, Member | None]:
        async with self._db() as s:
            target = await s.scalar(select(Member).where(Member.member_id == member_id))
            return await load_tree(s), await viewer_of(s, caller), target

    def _editable(self, tree: OrgTree, viewer: Viewer, target: Member) -> list[str]:
        out = []
        for kind in FIELDS:
            try:
                check_edit(tree, viewer, target.member_id, target.cell_id, kind)
                out.append(kind)
            except NotAuthorised:
                pass
        return out

    async def get(self, caller: Member, member_id: str) -> dict[str, Any]:
        """The profile and its history. Reading someone else's is recorded in the log first."""
        tree, viewer, target = await self._context(caller, member_id)
        if target is None or not may_read(tree, viewer, member_id, target.cell_id):
            raise NotFound(f"no member {member_id}")
        if caller.member_id != member_id:
            await self._log.append("profile_read", member_id=member_id, by=caller.member_id)
        entries = await self._log.member_entries(member_id)
        profile = fold_profile(member_id, entries)
        reads = [{"at": e["at"], "by": e["by"]} for e in entries if e.get("type") == "profile_read"]
        cell = tree.cells.get(target.cell_id)
        return {
            "member": {
                "member_id": target.member_id,
                "full_name": target.full_name,
                "status": target.status,
                "cell_id": target.cell_id,
                "cell": cell.name if cell else "",
            },
            "profile": profile.to_dict(),
            "editable": self._editable(tree, viewer, target),
            "reads": reads[-READS_SHOWN:] if viewer.is_admin or caller.member_id == member_id else [],
            "reads_total": len(reads),
            "timeline": await self._figures.member_timeline(target.id, member_id),
        }

    async def change(
        self, caller: Member, member_id: str, kind: Any, data: Any, reason: Any
    ) -> dict[str, Any]:
        tree, viewer, target = await self._context(caller, member_id)
        if target is None:
            raise NotFound(f"no member {member_id}")
        profile = fold_profile(member_id, await self._log.member_entries(member_id))
        corrected = None
        if kind == "correction" and isinstance(data, dict) and isinstance(data.get("corrects"), int):
            rec = profile.records.get(data["corrects"])
            corrected = rec.kind if rec else None
        try:
            check_edit(tree, viewer, member_id, target.cell_id, str(kind), corrected)
            clean = parse_change(profile, kind, data)
            why = check_reason(reason)
            dest: int | None = None
            if kind == "transfer":
                dest = next((c.id for c in tree.cells.values() if c.name == clean["cell"]), None)
                if dest is None or not tree.may_see_cell(viewer, dest):
                    raise InvalidInput(f"no cell {clean['cell']!r}", field="data.cell")
                if dest == target.cell_id:
                    raise InvalidInput("the member is already in that cell", field="data.cell")
                old = tree.cells.get(target.cell_id)
                clean["from_cell"] = old.name if old else ""
        except NotAuthorised as exc:
            await self._log.append(
                "profile_change_refused",
                member_id=member_id,
                by=caller.member_id,
                kind=str(kind)[:32],
                error=exc.code,
            )
            if self._events is not None:  # administrators see refusals beside the other security events
                await self._events.record(
                    "profile_change_refused",
                    member_id=caller.member_id,
                    target=member_id,
                    change=str(kind)[:32],
                    error=exc.code,
                )
            raise
        async with self._log.transaction() as tx:
            m = await tx.session.get(Member, target.id)
            assert m is not None
            if dest is not None:
                m.cell_id = dest
            if kind == "status":
                m.status = clean["status"]
            entry = tx.append(
                "profile_change", member_id=member_id, by=caller.member_id, reason=why, kind=kind, data=clean
            )
        return entry
