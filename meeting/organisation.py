"""The organisation tree above the cells: committees, their cells and sub-sites, officers.

Pure: the tree is plain data (:class:`OrgTree`) built by the storage adapter; this
module answers who may see which cell (:func:`OrgTree.scope`) and parses the
organisation CSV (:func:`parse_org_csv`) all or nothing, with line-numbered errors.

A committee may sit above other committees; a cell belongs to at most one committee.
A committee officer sees every cell under their committee, at any depth; a cell
officer sees their cell; administrators see everything; a member sees themself.

CSV columns (header required, order free)::

    kind,key,name,parent,title
    committee,K-PROV,Provincial committee,,          key = committee code, parent = a committee code
    committee,K-DIST1,District 1 committee,K-PROV,
    cell,Cell 1 - Harbour Ward,,K-DIST1,             key = cell name (created if new)
    site,Island post,,Cell 1 - Harbour Ward,         key = site name, parent = a cell
    committee_officer,C1-CHAIR,,K-DIST1,secretary    key = member id, parent = committee code
    cell_officer,C1-SEC,,Cell 1 - Harbour Ward,deputy secretary
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import InvalidInput, InvalidState, NotFound

ORG_KINDS = ("committee", "cell", "site", "committee_officer", "cell_officer")
ORG_COLUMNS = ("kind", "key", "name", "parent", "title")
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
MAX_TEXT = 200


@dataclass(frozen=True)
class Committee:
    id: int
    code: str
    name: str
    parent_id: int | None = None


@dataclass(frozen=True)
class CellNode:
    id: int
    name: str
    committee_id: int | None = None
    sites: tuple[str, ...] = ()
    site_ids: tuple[int, ...] = ()  # the sites' ids, in the order of ``sites``


@dataclass(frozen=True)
class Viewer:
    """What the access rules need to know about the caller."""

    member_id: str
    cell_id: int
    is_admin: bool = False
    officer_of_cells: frozenset[int] = frozenset()
    officer_of_committees: frozenset[int] = frozenset()


@dataclass
class OrgTree:
    committees: dict[int, Committee] = field(default_factory=dict)
    cells: dict[int, CellNode] = field(default_factory=dict)

    def children(self, committee_id: int | None) -> list[Committee]:
        return sorted(
            (c for c in self.committees.values() if c.parent_id == committee_id), key=lambda c: c.code
        )

    def committees_under(self, committee_id: int) -> set[int]:
        """The committee and every committee below it."""
        out, todo = set(), [committee_id]
        while todo:
            cid = todo.pop()
            if cid in out:
                continue
            out.add(cid)
            todo.extend(c.id for c in self.committees.values() if c.parent_id == cid)
        return out

    def cells_under(self, committee_id: int) -> list[CellNode]:
        under = self.committees_under(committee_id)
        return sorted((c for c in self.cells.values() if c.committee_id in under), key=lambda c: c.name)

    def scope(self, viewer: Viewer) -> set[int] | None:
        """Cell ids the viewer may see (officer rights); ``None`` means every cell."""
        if viewer.is_admin:
            return None
        cells = set(viewer.officer_of_cells)
        for cid in viewer.officer_of_committees:
            cells |= {c.id for c in self.cells_under(cid)}
        return cells

    def visible_committees(self, viewer: Viewer) -> set[int] | None:
        if viewer.is_admin:
            return None
        out: set[int] = set()
        for cid in viewer.officer_of_committees:
            out |= self.committees_under(cid)
        return out

    def may_see_cell(self, viewer: Viewer, cell_id: int) -> bool:
        scope = self.scope(viewer)
        return scope is None or cell_id in scope

    def may_see_committee(self, viewer: Viewer, committee_id: int) -> bool:
        seen = self.visible_committees(viewer)
        return seen is None or committee_id in seen

    # -- who may change the tree, row by row ----------------------------------------------

    def may_manage_committee(self, viewer: Viewer, committee_id: int) -> bool:
        """Add cells under the committee or move cells into it, and appoint the officers of
        its cells: administrators, and officers of the committee or of one above it."""
        seen = self.visible_committees(viewer)
        return seen is None or committee_id in seen

    def may_manage_cell(self, viewer: Viewer, cell_id: int) -> bool:
        """Rename or move the cell, appoint its officers (a cell officer may not)."""
        cell = self.cells.get(cell_id)
        if viewer.is_admin:
            return cell is not None
        return (
            cell is not None
            and cell.committee_id is not None
            and (self.may_manage_committee(viewer, cell.committee_id))
        )

    def may_appoint_officers_of(self, viewer: Viewer, committee_id: int) -> bool:
        """Appoint or remove a committee's own officers: administrators, and officers of a
        committee above it (never the committee's own officers: no one raises a peer)."""
        if viewer.is_admin:
            return committee_id in self.committees
        return any(
            committee_id != mine and committee_id in self.committees_under(mine)
            for mine in viewer.officer_of_committees
        )

    def may_add_committee(self, viewer: Viewer, parent_id: int | None) -> bool:
        """Add a committee under ``parent_id``: what :meth:`may_manage_committee` allows there;
        a committee at the top only an administrator."""
        if parent_id is None:
            return viewer.is_admin
        return self.may_manage_committee(viewer, parent_id)

    def may_change_committee(self, viewer: Viewer, committee_id: int) -> bool:
        """Rename or move the committee: administrators, and officers of a committee above it
        (as for its officers: a committee's own officers do not rename or move it)."""
        return self.may_appoint_officers_of(viewer, committee_id)

    def may_manage_sites(self, viewer: Viewer, cell_id: int) -> bool:
        """Add, rename or remove the cell's sub-sites: whoever may rename or move the cell."""
        return self.may_manage_cell(viewer, cell_id)

    def check_committee_parent(self, committee_id: int, parent_id: int | None) -> None:
        """:class:`InvalidState` (``committee_cycle``) when putting the committee under
        ``parent_id`` would make it sit above itself, naming the chain."""
        if parent_id is None:
            return
        if parent_id in self.committees_under(committee_id):
            chain = [self.committees[parent_id].code]
            cur = self.committees[parent_id].parent_id
            while chain[-1] != self.committees[committee_id].code and cur is not None:
                chain.append(self.committees[cur].code)
                cur = self.committees[cur].parent_id
            moved = self.committees[committee_id].code
            raise InvalidState(
                f"{moved} cannot go under itself"
                if parent_id == committee_id
                else f"{moved} cannot go under {chain[0]}: {chain[0]} is below it ({' < '.join(chain)})",
                code="committee_cycle",
                field="parent_id",
            )

    def check_visible(
        self, viewer: Viewer, *, committee_id: int | None = None, cell_id: int | None = None
    ) -> None:
        """:class:`NotFound` for a committee or cell the viewer may not see (or that does not
        exist): the same answer either way, never a hint."""
        if committee_id is not None and (
            committee_id not in self.committees or not self.may_see_committee(viewer, committee_id)
        ):
            raise NotFound(f"no committee {committee_id}")
        if cell_id is not None and (cell_id not in self.cells or not self.may_see_cell(viewer, cell_id)):
            raise NotFound(f"no cell {cell_id}")

    def manageable(self, viewer: Viewer) -> dict[str, object]:
        """What the viewer may change, for the client to offer only that."""
        return {
            "committees": sorted(c for c in self.committees if self.may_manage_committee(viewer, c)),
            "cells": sorted(c for c in self.cells if self.may_manage_cell(viewer, c)),
            "officers_of": sorted(c for c in self.committees if self.may_appoint_officers_of(viewer, c)),
            "change_committees": sorted(c for c in self.committees if self.may_change_committee(viewer, c)),
            "add_top": self.may_add_committee(viewer, None),
        }

    def to_dict(self, viewer: Viewer) -> dict[str, object]:
        """The part of the tree the viewer may see, nested from its tops."""
        seen = self.visible_committees(viewer)
        scope = self.scope(viewer)

        def node(c: Committee) -> dict[str, object]:
            return {
                "id": c.id,
                "code": c.code,
                "name": c.name,
                "committees": [node(k) for k in self.children(c.id)],
                "cells": [
                    {"id": x.id, "name": x.name, "sites": list(x.sites), "site_ids": list(x.site_ids)}
                    for x in sorted(self.cells.values(), key=lambda x: x.name)
                    if x.committee_id == c.id
                ],
            }

        if seen is None:
            tops = self.children(None)
        else:
            tops = sorted(
                (self.committees[c] for c in seen if self.committees[c].parent_id not in seen),
                key=lambda c: c.code,
            )
        loose = [
            {"id": x.id, "name": x.name, "sites": list(x.sites), "site_ids": list(x.site_ids)}
            for x in sorted(self.cells.values(), key=lambda x: x.name)
            if (scope is None and x.committee_id is None)
            or (scope is not None and x.id in scope and (seen is None or x.committee_id not in seen))
        ]
        return {"committees": [node(c) for c in tops], "cells": loose}


# -- CSV import ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgRow:
    line: int
    kind: str
    key: str
    name: str
    parent: str
    title: str


@dataclass(frozen=True)
class OrgSnapshot:
    """What already exists, for checking references: committee codes and their parents,
    cell names, member ids."""

    committees: Mapping[str, str | None] = field(default_factory=dict)  # code -> parent code
    cells: frozenset[str] = frozenset()
    member_ids: frozenset[str] = frozenset()


def check_site_removal(site: str, history: int, in_use: Iterable[int]) -> None:
    """Refuse removing a sub-site that the minutes or a coming meeting still name:
    ``history`` closed meetings held with it, ``in_use`` the scheduled or open ones."""
    open_ids = sorted(in_use)
    if open_ids:
        raise InvalidState(
            f"site {site!r} is a sub-site of the scheduled or open meeting(s) "
            f"{', '.join(map(str, open_ids))}: take it off them first",
            code="site_in_use",
        )
    if history:
        raise InvalidState(
            f"site {site!r} has the attendance of {history} closed meeting(s) in their minutes: "
            "it stays so those records keep their place; rename it if it changed",
            code="site_has_history",
        )


def parse_org_csv(text: str, existing: OrgSnapshot) -> list[OrgRow]:
    """Parse and check a whole file; raise :class:`InvalidInput` listing every bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    errors: list[str] = []
    missing = [c for c in ("kind", "key", "parent") if c not in header]
    unknown = [c for c in header if c not in ORG_COLUMNS]
    if missing:
        errors.append(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        errors.append(f"line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(ORG_COLUMNS)}")
    rows: list[OrgRow] = []
    if not errors:
        for raw in reader:
            line = reader.line_num
            if None in raw:
                errors.append(f"line {line}: too many fields")
                continue
            v = {k: (raw.get(k) or "").strip() for k in ORG_COLUMNS}
            row = OrgRow(line, v["kind"], v["key"], v["name"], v["parent"], v["title"])
            problems = _check_row(row)
            errors.extend(problems)
            if not problems:  # references are checked for the rows that are well formed
                rows.append(row)
        if not rows and not errors:
            errors.append("line 2: the file has no rows")
        errors.extend(_check_references(rows, existing))
    if errors:
        errors.sort(key=lambda e: int(e.split(":")[0].split()[1]))
        raise InvalidInput("the file was not imported:\n" + "\n".join(errors), errors=errors)
    return rows


def _check_row(r: OrgRow) -> list[str]:
    out: list[str] = []
    if r.kind not in ORG_KINDS:
        return [f"line {r.line}: kind {r.kind!r} is not one of {', '.join(ORG_KINDS)}"]
    if not r.key:
        out.append(f"line {r.line}: key is empty")
    for col, value in (("key", r.key), ("name", r.name), ("parent", r.parent), ("title", r.title)):
        if len(value) > MAX_TEXT:
            out.append(f"line {r.line}: {col} is longer than {MAX_TEXT} characters")
    if r.kind == "committee":
        if r.key and not CODE_RE.match(r.key):
            out.append(f"line {r.line}: committee code {r.key!r} is not valid (2-32 of A-Z, 0-9 and '-')")
        if not r.name:
            out.append(f"line {r.line}: a committee needs a name")
    elif not r.parent:
        what = {
            "cell": "a committee code",
            "site": "a cell name",
            "committee_officer": "a committee code",
            "cell_officer": "a cell name",
        }[r.kind]
        out.append(f"line {r.line}: parent is empty (expected {what})")
    if r.kind.endswith("_officer") and not r.title:
        out.append(f"line {r.line}: an officer needs a title")
    return out


def _check_references(rows: list[OrgRow], existing: OrgSnapshot) -> list[str]:
    out: list[str] = []
    parents: dict[str, str | None] = dict(existing.committees)
    first: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r.kind if r.kind != "committee_officer" else f"{r.kind}:{r.parent}", r.key)
        if r.kind == "site":
            key = ("site", f"{r.parent}/{r.key}")
        if key in first:
            out.append(f"line {r.line}: {r.kind} {r.key} already on line {first[key]}")
            continue
        first[key] = r.line
        if r.kind == "committee":
            parents[r.key] = r.parent or None
    cells = set(existing.cells) | {r.key for r in rows if r.kind == "cell"}
    for r in rows:
        if r.kind in ("committee", "cell", "committee_officer") and r.parent and r.parent not in parents:
            out.append(f"line {r.line}: unknown committee {r.parent!r}")
        if r.kind in ("site", "cell_officer") and r.parent not in cells:
            out.append(f"line {r.line}: unknown cell {r.parent!r}")
        if r.kind.endswith("_officer") and r.key not in existing.member_ids:
            out.append(f"line {r.line}: unknown member {r.key!r}")
        if r.kind == "committee" and r.key in _cycle(parents, r.key):
            out.append(f"line {r.line}: committee {r.key} would sit above itself")
    return out


def _cycle(parents: Mapping[str, str | None], start: str) -> set[str]:
    """The codes above ``start`` (including itself when the chain loops back)."""
    seen: set[str] = set()
    cur = parents.get(start)
    while cur is not None and cur not in seen:
        seen.add(cur)
        cur = parents.get(cur)
    return seen


def committee_order(rows: Iterable[OrgRow]) -> list[OrgRow]:
    """Committee rows ordered parents first (rows already checked to have no cycles)."""
    todo = [r for r in rows if r.kind == "committee"]
    codes = {r.key for r in todo}
    done: set[str] = set()
    out: list[OrgRow] = []
    while todo:
        rest = []
        for r in todo:
            if not r.parent or r.parent not in codes or r.parent in done:
                out.append(r)
                done.add(r.key)
            else:
                rest.append(r)
        if len(rest) == len(todo):  # cannot happen after _check_references
            raise InvalidInput("committee rows form a cycle")
        todo = rest
    return out
