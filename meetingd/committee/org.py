"""The organisation tree in storage: load it, import it from CSV, build a caller's viewer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.organisation import (
    CellNode,
    Committee,
    OrgSnapshot,
    OrgTree,
    Viewer,
    committee_order,
    parse_org_csv,
)

from ..storage.models import Cell, Member, Site
from ..storage.org_models import CellCommittee, CellOfficer, CommitteeOfficer, CommitteeRow
from .org_log import OrgLog


@dataclass(frozen=True)
class OrgImportReport:
    committees: int
    cells: int
    sites: int
    officers: int


async def load_tree(s: AsyncSession) -> OrgTree:
    tree = OrgTree()
    for c in (await s.scalars(select(CommitteeRow))).all():
        tree.committees[c.id] = Committee(c.id, c.code, c.name, c.parent_id)
    links = {
        cell_id: cid
        for cell_id, cid in (await s.execute(select(CellCommittee.cell_id, CellCommittee.committee_id))).all()
    }
    sites: dict[int, list[tuple[int, str]]] = {}
    for site_id, cell_id, name in (
        await s.execute(select(Site.id, Site.cell_id, Site.name).order_by(Site.name, Site.id))
    ).all():
        sites.setdefault(cell_id, []).append((site_id, name))
    for cell in (await s.scalars(select(Cell))).all():
        mine = sites.get(cell.id, [])
        tree.cells[cell.id] = CellNode(
            cell.id, cell.name, links.get(cell.id), tuple(n for _, n in mine), tuple(i for i, _ in mine)
        )
    return tree


async def viewer_of(s: AsyncSession, m: Member) -> Viewer:
    cells = (await s.scalars(select(CellOfficer.cell_id).where(CellOfficer.member_pk == m.id))).all()
    committees = (
        await s.scalars(select(CommitteeOfficer.committee_id).where(CommitteeOfficer.member_pk == m.id))
    ).all()
    return Viewer(m.member_id, m.cell_id, m.is_admin, frozenset(cells), frozenset(committees))


class Organisation:
    def __init__(self, db: async_sessionmaker[AsyncSession], log: OrgLog) -> None:
        self._db, self._log = db, log

    async def tree_and_viewer(self, m: Member) -> tuple[OrgTree, Viewer]:
        async with self._db() as s:
            return await load_tree(s), await viewer_of(s, m)

    async def officers(self, tree: OrgTree, viewer: Viewer) -> dict[str, list[dict[str, object]]]:
        """The officers of the committees and cells the viewer may see."""
        committees, cells = tree.visible_committees(viewer), tree.scope(viewer)
        async with self._db() as s:
            com = (
                await s.execute(
                    select(
                        CommitteeRow.id,
                        CommitteeRow.code,
                        Member.member_id,
                        Member.full_name,
                        CommitteeOfficer.title,
                    )
                    .join(CommitteeRow, CommitteeRow.id == CommitteeOfficer.committee_id)
                    .join(Member, Member.id == CommitteeOfficer.member_pk)
                    .order_by(CommitteeRow.code, Member.member_id)
                )
            ).all()
            cel = (
                await s.execute(
                    select(Cell.id, Cell.name, Member.member_id, Member.full_name, CellOfficer.title)
                    .join(Cell, Cell.id == CellOfficer.cell_id)
                    .join(Member, Member.id == CellOfficer.member_pk)
                    .order_by(Cell.name, Member.member_id)
                )
            ).all()
        return {
            "committee_officers": [
                {"committee_id": i, "committee": c, "member_id": m, "full_name": n, "title": t}
                for i, c, m, n, t in com
                if committees is None or i in committees
            ],
            "cell_officers": [
                {"cell_id": i, "cell": c, "member_id": m, "full_name": n, "title": t}
                for i, c, m, n, t in cel
                if cells is None or i in cells
            ],
        }

    async def import_csv(self, text: str, by: str) -> OrgImportReport:
        """All or nothing. Officer rows replace the officers of the committees and cells named."""
        async with self._db() as s:
            committees = {c.code: c for c in (await s.scalars(select(CommitteeRow))).all()}
            by_id = {c.id: c.code for c in committees.values()}
            snapshot = OrgSnapshot(
                committees={
                    c.code: by_id.get(c.parent_id) if c.parent_id else None for c in committees.values()
                },
                cells=frozenset((await s.scalars(select(Cell.name))).all()),
                member_ids=frozenset((await s.scalars(select(Member.member_id))).all()),
            )
        rows = parse_org_csv(text, snapshot)
        counts = {"committee": 0, "cell": 0, "site": 0, "officer": 0}
        async with self._log.transaction() as tx:
            s = tx.session
            committees = {c.code: c for c in (await s.scalars(select(CommitteeRow))).all()}
            for r in committee_order(rows):
                row = committees.get(r.key)
                if row is None:
                    row = committees[r.key] = CommitteeRow(code=r.key, name=r.name)
                    s.add(row)
                row.name = r.name
                await s.flush()
                row.parent_id = committees[r.parent].id if r.parent else None
                counts["committee"] += 1
            await s.flush()
            cells = {c.name: c for c in (await s.scalars(select(Cell))).all()}
            for r in rows:
                if r.kind == "cell":
                    cell = cells.get(r.key)
                    if cell is None:
                        cell = cells[r.key] = Cell(name=r.key)
                        s.add(cell)
                        await s.flush()
                    await s.execute(delete(CellCommittee).where(CellCommittee.cell_id == cell.id))
                    s.add(CellCommittee(cell_id=cell.id, committee_id=committees[r.parent].id))
                    counts["cell"] += 1
            members = {
                m.member_id: m.id for m in (await s.execute(select(Member.member_id, Member.id))).all()
            }
            replaced_committees: set[int] = set()
            replaced_cells: set[int] = set()
            for r in rows:
                if r.kind == "site":
                    cell_id = cells[r.parent].id
                    exists = await s.scalar(
                        select(Site.id).where(Site.cell_id == cell_id, Site.name == r.key)
                    )
                    if exists is None:
                        s.add(Site(cell_id=cell_id, name=r.key))
                    counts["site"] += 1
                elif r.kind == "committee_officer":
                    cid = committees[r.parent].id
                    if cid not in replaced_committees:
                        await s.execute(delete(CommitteeOfficer).where(CommitteeOfficer.committee_id == cid))
                        replaced_committees.add(cid)
                    s.add(CommitteeOfficer(committee_id=cid, member_pk=members[r.key], title=r.title))
                    counts["officer"] += 1
                elif r.kind == "cell_officer":
                    cell_id = cells[r.parent].id
                    if cell_id not in replaced_cells:
                        await s.execute(delete(CellOfficer).where(CellOfficer.cell_id == cell_id))
                        replaced_cells.add(cell_id)
                    s.add(CellOfficer(cell_id=cell_id, member_pk=members[r.key], title=r.title))
                    counts["officer"] += 1
            tx.append(
                "org_imported",
                by=by,
                sha256=hashlib.sha256(text.encode()).hexdigest(),
                rows=len(rows),
                **{f"{k}s": v for k, v in counts.items()},
            )
        return OrgImportReport(counts["committee"], counts["cell"], counts["site"], counts["officer"])
