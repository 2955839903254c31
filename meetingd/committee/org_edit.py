"""Row-by-row changes to the organisation tree: committees and cells added, renamed, moved;
a cell's sub-sites added, renamed, removed; officers.

Each change is checked against the caller's place in the tree (:class:`OrgTree` rules:
``may_manage_committee``, ``may_manage_cell``, ``may_appoint_officers_of``), carries a
reason, and is an ``org_changed`` entry of the organisation log written in the same
transaction as the rows. A committee or cell the caller may not see is ``not_found``; one
they see but may not change is ``not_authorised``, and that refusal is recorded
(``org_change_refused``, and in the security log), as for profile changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import Conflict, InvalidInput, NotAuthorised, NotFound
from meeting.organisation import CODE_RE, MAX_TEXT, OrgTree, Viewer, check_site_removal

from ..directory import check_text
from ..security.events import EventSink
from ..storage.models import AttendanceInterval, Cell, Meeting, MeetingSite, Member, Participant, Site
from ..storage.org_models import CellCommittee, CellOfficer, CommitteeOfficer, CommitteeRow
from .org import load_tree, viewer_of
from .org_log import OrgLog
from .profiles import check_reason

T = TypeVar("T")


@dataclass(frozen=True)
class CellChange:
    """``POST /api/org/cells`` (name and committee required) and ``PATCH /api/org/cells/{id}``."""

    reason: str
    name: str | None = None
    committee_id: int | None = None


@dataclass(frozen=True)
class OfficerChange:
    """``PUT`` (title required) and ``DELETE /api/org/{committees|cells}/{id}/officers/{member_id}``."""

    reason: str
    title: str | None = None


@dataclass(frozen=True)
class CommitteeChange:
    """``POST /api/org/committees`` (code and name required, ``parent_id`` null or absent:
    at the top) and ``PATCH /api/org/committees/{id}`` (name, or ``parent_id``: null moves
    it to the top)."""

    reason: str
    code: str | None = None
    name: str | None = None
    parent_id: int | None = None
    move: bool = False  # parent_id was given


@dataclass(frozen=True)
class SiteChange:
    """``POST /api/org/cells/{id}/sites``, ``PATCH`` (name required) and ``DELETE .../{site_id}``."""

    reason: str
    name: str | None = None


def _positive(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInput(f"'{field}' must be a positive integer", field=field)
    return value


def parse_cell_change(body: dict[str, Any], *, new: bool) -> CellChange:
    name = check_text(body["name"], "name", max_len=MAX_TEXT) if "name" in body else None
    committee = _positive(body["committee_id"], "committee_id") if "committee_id" in body else None
    if not new and name is None and committee is None:
        raise InvalidInput("say what changes: 'name' or 'committee_id'", field="name")
    return CellChange(check_reason(body.get("reason")), name, committee)


def parse_committee_change(body: dict[str, Any], *, new: bool) -> CommitteeChange:
    code = None
    if new:
        code = body.get("code")
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise InvalidInput(
                "'code' must be 2-32 of A-Z, 0-9 and '-', starting with a letter or digit", field="code"
            )
    name = check_text(body["name"], "name", max_len=MAX_TEXT) if "name" in body else None
    move = "parent_id" in body
    parent = None if body.get("parent_id") is None else _positive(body["parent_id"], "parent_id")
    if new and name is None:
        raise InvalidInput("a new committee needs 'name'", field="name")
    if not new and name is None and not move:
        raise InvalidInput("say what changes: 'name' or 'parent_id'", field="name")
    return CommitteeChange(check_reason(body.get("reason")), code, name, parent, move)


def parse_site_change(body: dict[str, Any], *, named: bool) -> SiteChange:
    name = check_text(body.get("name"), "name", max_len=MAX_TEXT) if named else None
    return SiteChange(check_reason(body.get("reason")), name)


def parse_officer_change(body: dict[str, Any], *, appoint: bool) -> OfficerChange:
    title = check_text(body["title"], "title", max_len=MAX_TEXT) if appoint else None
    return OfficerChange(check_reason(body.get("reason")), title)


class OrgEditor:
    def __init__(self, db: async_sessionmaker[AsyncSession], log: OrgLog, events: EventSink | None) -> None:
        self._db, self._log, self._events = db, log, events

    async def _context(self, caller: Member) -> tuple[OrgTree, Viewer]:
        async with self._db() as s:
            return await load_tree(s), await viewer_of(s, caller)

    async def _refused(self, caller: Member, change: str, target: str, exc: NotAuthorised) -> None:
        await self._log.append(
            "org_change_refused", by=caller.member_id, change=change, target=target, error=exc.code
        )
        if self._events is not None:  # administrators see refusals beside the other security events
            await self._events.record(
                "org_change_refused", member_id=caller.member_id, change=change, target=target, error=exc.code
            )

    async def _checked(
        self, caller: Member, change: str, target: str, check: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            return await check()
        except NotAuthorised as exc:
            await self._refused(caller, change, target, exc)
            raise

    # -- cells -------------------------------------------------------------------------------

    async def add_cell(self, caller: Member, change: CellChange) -> dict[str, Any]:
        if change.name is None or change.committee_id is None:
            raise InvalidInput(
                "a new cell needs 'name' and 'committee_id'",
                field="name" if change.name is None else "committee_id",
            )
        tree, viewer = await self._context(caller)
        committee_id = change.committee_id

        async def check() -> None:
            tree.check_visible(viewer, committee_id=committee_id)
            if not tree.may_manage_committee(viewer, committee_id):
                raise NotAuthorised(
                    "only the committee's officers, those above them or an administrator may add a cell"
                )

        await self._checked(caller, "cell_added", f"committee:{committee_id}", check)
        async with self._log.transaction() as tx:
            s = tx.session
            if await s.scalar(select(Cell.id).where(Cell.name == change.name)) is not None:
                raise Conflict(f"a cell named {change.name!r} exists already", field="name")
            cell = Cell(name=change.name)
            s.add(cell)
            await s.flush()
            s.add(CellCommittee(cell_id=cell.id, committee_id=committee_id))
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change="cell_added",
                cell_id=cell.id,
                cell=change.name,
                committee=tree.committees[committee_id].code,
            )
            return {"id": cell.id, "name": change.name, "committee_id": committee_id}

    async def change_cell(self, caller: Member, cell_id: int, change: CellChange) -> dict[str, Any]:
        tree, viewer = await self._context(caller)
        target = change.committee_id

        async def check() -> None:
            tree.check_visible(viewer, cell_id=cell_id)
            if target is not None:
                tree.check_visible(viewer, committee_id=target)
            if not tree.may_manage_cell(viewer, cell_id) or (
                target is not None and not tree.may_manage_committee(viewer, target)
            ):
                raise NotAuthorised(
                    "only officers of a committee over the cell, or an administrator, may change it"
                )

        what = "cell_moved" if change.name is None else "cell_renamed" if target is None else "cell_changed"
        await self._checked(caller, what, f"cell:{cell_id}", check)
        node = tree.cells[cell_id]
        async with self._log.transaction() as tx:
            s = tx.session
            cell = await s.get(Cell, cell_id)
            if cell is None:
                raise NotFound(f"no cell {cell_id}")
            fields: dict[str, Any] = {}
            if change.name is not None and change.name != cell.name:
                if (
                    await s.scalar(select(Cell.id).where(Cell.name == change.name, Cell.id != cell_id))
                    is not None
                ):
                    raise Conflict(f"a cell named {change.name!r} exists already", field="name")
                fields.update(old_name=cell.name, cell=change.name)
                cell.name = change.name
            if target is not None and target != node.committee_id:
                await s.execute(delete(CellCommittee).where(CellCommittee.cell_id == cell_id))
                s.add(CellCommittee(cell_id=cell_id, committee_id=target))
                old = tree.committees.get(node.committee_id) if node.committee_id is not None else None
                fields.update(
                    from_committee=old.code if old else None, committee=tree.committees[target].code
                )
            if not fields:
                raise InvalidInput(
                    "nothing changes: the cell already has that name and committee", field="name"
                )
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change=what,
                cell_id=cell_id,
                **({"cell": cell.name} | fields),
            )
            return {
                "id": cell_id,
                "name": cell.name,
                "committee_id": target if target is not None else node.committee_id,
            }

    # -- committees ----------------------------------------------------------------------------

    async def add_committee(self, caller: Member, change: CommitteeChange) -> dict[str, Any]:
        assert change.code is not None and change.name is not None  # parse_committee_change(new=True)
        tree, viewer = await self._context(caller)
        parent = change.parent_id

        async def check() -> None:
            if parent is not None:
                tree.check_visible(viewer, committee_id=parent)
            if not tree.may_add_committee(viewer, parent):
                raise NotAuthorised(
                    "only an administrator may add a committee at the top"
                    if parent is None
                    else "only the committee's officers, those above them or an administrator may add a "
                    "committee under it"
                )

        await self._checked(caller, "committee_added", f"committee:{parent or 'top'}", check)
        async with self._log.transaction() as tx:
            s = tx.session
            if await s.scalar(select(CommitteeRow.id).where(CommitteeRow.code == change.code)) is not None:
                raise Conflict(f"a committee with code {change.code} exists already", field="code")
            row = CommitteeRow(code=change.code, name=change.name, parent_id=parent)
            s.add(row)
            await s.flush()
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change="committee_added",
                committee=change.code,
                name=change.name,
                parent=tree.committees[parent].code if parent is not None else None,
            )
            return {"id": row.id, "code": row.code, "name": row.name, "parent_id": parent}

    async def change_committee(
        self, caller: Member, committee_id: int, change: CommitteeChange
    ) -> dict[str, Any]:
        tree, viewer = await self._context(caller)
        target = change.parent_id

        async def check() -> None:
            tree.check_visible(viewer, committee_id=committee_id)
            if change.move and target is not None:
                tree.check_visible(viewer, committee_id=target)
            if not tree.may_change_committee(viewer, committee_id) or (
                change.move and not tree.may_add_committee(viewer, target)
            ):
                raise NotAuthorised(
                    "only officers of a committee above it (and of the committee it moves under), or an "
                    "administrator, may rename or move a committee"
                )

        what = (
            "committee_renamed"
            if not change.move
            else "committee_moved"
            if change.name is None
            else "committee_changed"
        )
        await self._checked(caller, what, f"committee:{committee_id}", check)
        if change.move:
            tree.check_committee_parent(committee_id, target)
        async with self._log.transaction() as tx:
            s = tx.session
            row = await s.get(CommitteeRow, committee_id)
            if row is None:
                raise NotFound(f"no committee {committee_id}")
            fields: dict[str, Any] = {}
            if change.name is not None and change.name != row.name:
                fields.update(old_name=row.name, name=change.name)
                row.name = change.name
            if change.move and target != row.parent_id:
                old = tree.committees.get(row.parent_id) if row.parent_id is not None else None
                fields.update(
                    from_parent=old.code if old else None,
                    parent=tree.committees[target].code if target is not None else None,
                )
                row.parent_id = target
            if not fields:
                raise InvalidInput(
                    "nothing changes: the committee already has that name and place",
                    field="name" if change.name is not None else "parent_id",
                )
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change=what,
                committee=row.code,
                **fields,
            )
            return {"id": row.id, "code": row.code, "name": row.name, "parent_id": row.parent_id}

    # -- a cell's sub-sites ---------------------------------------------------------------------

    async def _site_check(self, caller: Member, what: str, cell_id: int) -> OrgTree:
        tree, viewer = await self._context(caller)

        async def check() -> None:
            tree.check_visible(viewer, cell_id=cell_id)
            if not tree.may_manage_sites(viewer, cell_id):
                raise NotAuthorised(
                    "only officers of a committee over the cell, or an administrator, may change its "
                    "sub-sites"
                )

        await self._checked(caller, what, f"cell:{cell_id}", check)
        return tree

    @staticmethod
    async def _site(s: AsyncSession, cell_id: int, site_id: int) -> Site:
        site = await s.get(Site, site_id)
        if site is None or site.cell_id != cell_id:
            raise NotFound(f"no site {site_id} in cell {cell_id}")
        return site

    @staticmethod
    async def _name_free(s: AsyncSession, cell_id: int, name: str, site_id: int | None = None) -> None:
        taken = select(Site.id).where(Site.cell_id == cell_id, Site.name == name)
        if site_id is not None:
            taken = taken.where(Site.id != site_id)
        if await s.scalar(taken) is not None:
            raise Conflict(f"the cell has a sub-site named {name!r} already", field="name")

    async def add_site(self, caller: Member, cell_id: int, change: SiteChange) -> dict[str, Any]:
        assert change.name is not None  # parse_site_change(named=True)
        tree = await self._site_check(caller, "site_added", cell_id)
        async with self._log.transaction() as tx:
            s = tx.session
            await self._name_free(s, cell_id, change.name)
            site = Site(cell_id=cell_id, name=change.name)
            s.add(site)
            await s.flush()
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change="site_added",
                cell=tree.cells[cell_id].name,
                site_id=site.id,
                site=change.name,
            )
            return {"id": site.id, "cell_id": cell_id, "name": change.name}

    async def rename_site(
        self, caller: Member, cell_id: int, site_id: int, change: SiteChange
    ) -> dict[str, Any]:
        assert change.name is not None
        tree = await self._site_check(caller, "site_renamed", cell_id)
        async with self._log.transaction() as tx:
            s = tx.session
            site = await self._site(s, cell_id, site_id)
            if site.name == change.name:
                raise InvalidInput("nothing changes: the sub-site already has that name", field="name")
            await self._name_free(s, cell_id, change.name, site_id)
            old, site.name = site.name, change.name
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change="site_renamed",
                cell=tree.cells[cell_id].name,
                site_id=site_id,
                old_name=old,
                site=change.name,
            )
            return {"id": site_id, "cell_id": cell_id, "name": change.name}

    async def remove_site(
        self, caller: Member, cell_id: int, site_id: int, change: SiteChange
    ) -> dict[str, Any]:
        tree = await self._site_check(caller, "site_removed", cell_id)
        async with self._log.transaction() as tx:
            s = tx.session
            site = await self._site(s, cell_id, site_id)
            used = union(
                select(MeetingSite.meeting_id).where(MeetingSite.site_id == site_id),
                select(Participant.meeting_id).where(Participant.site_id == site_id),
                select(AttendanceInterval.meeting_id).where(AttendanceInterval.site_id == site_id),
            ).subquery()
            states = (
                await s.execute(
                    select(Meeting.id, Meeting.state).where(Meeting.id.in_(select(used.c.meeting_id)))
                )
            ).all()
            check_site_removal(
                site.name,
                sum(1 for _, state in states if state not in ("scheduled", "open")),
                [mid for mid, state in states if state in ("scheduled", "open")],
            )
            await s.delete(site)
            tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change="site_removed",
                cell=tree.cells[cell_id].name,
                site_id=site_id,
                site=site.name,
            )
            return {"id": site_id, "cell_id": cell_id, "name": site.name}

    # -- officers ------------------------------------------------------------------------------

    async def _member(self, s: AsyncSession, tree: OrgTree, viewer: Viewer, member_id: str) -> Member:
        """The member named, when the caller may see them (their own cell counts)."""
        m = await s.scalar(select(Member).where(Member.member_id == member_id))
        if m is None or not (viewer.member_id == member_id or tree.may_see_cell(viewer, m.cell_id)):
            raise NotFound(f"no member {member_id}")
        return m

    async def set_officer(
        self, caller: Member, unit: str, unit_id: int, member_id: str, change: OfficerChange
    ) -> dict[str, Any]:
        """Appoint (``change.title`` set) or remove the member as an officer of the committee or
        cell (``unit`` = "committee" | "cell")."""
        tree, viewer = await self._context(caller)
        appoint = change.title is not None
        what = f"{unit}_officer_{'appointed' if appoint else 'removed'}"

        async def check() -> None:
            if unit == "committee":
                tree.check_visible(viewer, committee_id=unit_id)
                allowed = tree.may_appoint_officers_of(viewer, unit_id)
            else:
                tree.check_visible(viewer, cell_id=unit_id)
                allowed = tree.may_manage_cell(viewer, unit_id)
            if not allowed:
                raise NotAuthorised(
                    "only an administrator or officers of a committee above it may appoint or remove "
                    "its officers"
                )

        await self._checked(caller, what, f"{unit}:{unit_id}", check)
        async with self._log.transaction() as tx:
            s = tx.session
            m = await self._member(s, tree, viewer, member_id)
            row: CommitteeOfficer | CellOfficer | None
            if unit == "committee":
                row = await s.scalar(
                    select(CommitteeOfficer).where(
                        CommitteeOfficer.committee_id == unit_id, CommitteeOfficer.member_pk == m.id
                    )
                )
            else:
                row = await s.scalar(
                    select(CellOfficer).where(CellOfficer.cell_id == unit_id, CellOfficer.member_pk == m.id)
                )
            before = row.title if row is not None else None
            if change.title is None:
                if row is None:
                    raise NotFound(f"{member_id} is not an officer here")
                await s.delete(row)
            elif row is not None:
                if row.title == change.title:
                    raise InvalidInput(f"{member_id} already holds that title here", field="title")
                row.title = change.title
            elif unit == "committee":
                s.add(CommitteeOfficer(committee_id=unit_id, member_pk=m.id, title=change.title))
            else:
                s.add(CellOfficer(cell_id=unit_id, member_pk=m.id, title=change.title))
            name = tree.committees[unit_id].code if unit == "committee" else tree.cells[unit_id].name
            entry = tx.append(
                "org_changed",
                by=caller.member_id,
                reason=change.reason,
                change=what,
                member_id=member_id,
                **{unit: name},
                **({"title": change.title} if appoint else {}),
                **({"old_title": before} if before is not None else {}),
            )
            return {
                "member_id": member_id,
                "full_name": m.full_name,
                unit: name,
                "title": change.title,
                "seq": entry["seq"],
            }
