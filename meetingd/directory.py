"""The organisation: cells, members, sub-sites. Admin edits and CSV import."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from meeting.errors import Conflict, InvalidInput, NotFound

from .storage.models import Cell, Member

MEMBER_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
STATUSES = ("active", "suspended", "left")
CSV_COLUMNS = ("member_id", "full_name", "cell", "contact", "status")
CSV_REQUIRED = ("member_id", "full_name", "cell")


def member_dict(m: Member) -> dict[str, Any]:
    return {
        "member_id": m.member_id,
        "full_name": m.full_name,
        "cell_id": m.cell_id,
        "contact": m.contact,
        "status": m.status,
        "is_admin": m.is_admin,
        "has_password": m.password_hash is not None,
    }


def check_member_id(value: object) -> str:
    if not isinstance(value, str) or not MEMBER_ID_RE.match(value):
        raise InvalidInput(
            "member_id must be 2-32 characters: capital letters, digits and '-' "
            "(starting with a letter or digit)",
            field="member_id",
        )
    return value


def check_text(value: object, field: str, *, max_len: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"{field} must be at most {max_len} characters", field=field)
    return value


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    cells_created: int


class Directory:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def list(self) -> tuple[list[Member], list[Cell]]:
        async with self._db() as s:
            members = list((await s.scalars(select(Member).order_by(Member.member_id))).all())
            cells = list((await s.scalars(select(Cell).order_by(Cell.name))).all())
        return members, cells

    async def get(self, member_id: str) -> Member:
        async with self._db() as s:
            m = await s.scalar(select(Member).where(Member.member_id == member_id))
        if m is None:
            raise NotFound(f"no member {member_id}")
        return m

    async def create(self, fields: dict[str, Any]) -> Member:
        async with self._db() as s, s.begin():
            if await s.scalar(select(Member).where(Member.member_id == fields["member_id"])):
                raise Conflict(f"member id {fields['member_id']} is already taken")
            if await s.get(Cell, fields["cell_id"]) is None:
                raise InvalidInput(f"no cell {fields['cell_id']}", field="cell_id")
            m = Member(created_at=self._clock(), contact="", status="active", is_admin=False, language="en")
            for k, v in fields.items():
                setattr(m, k, v)
            s.add(m)
        return m

    async def update(self, member_id: str, fields: dict[str, Any]) -> Member:
        async with self._db() as s, s.begin():
            m = await s.scalar(select(Member).where(Member.member_id == member_id))
            if m is None:
                raise NotFound(f"no member {member_id}")
            if "cell_id" in fields and await s.get(Cell, fields["cell_id"]) is None:
                raise InvalidInput(f"no cell {fields['cell_id']}", field="cell_id")
            for k, v in fields.items():
                setattr(m, k, v)
        return m

    async def import_csv(self, text: str) -> ImportReport:
        """All or nothing: any bad line rejects the whole file, listing every error."""
        rows, errors = parse_members_csv(text)
        if errors:
            raise InvalidInput("the file was not imported:\n" + "\n".join(errors), errors=errors)
        created = updated = cells_created = 0
        async with self._db() as s, s.begin():
            cells = {c.name: c for c in (await s.scalars(select(Cell))).all()}
            for row in rows:
                cell = cells.get(row["cell"])
                if cell is None:
                    cell = Cell(name=row["cell"])
                    s.add(cell)
                    await s.flush()
                    cells[cell.name] = cell
                    cells_created += 1
                m = await s.scalar(select(Member).where(Member.member_id == row["member_id"]))
                if m is None:
                    m = Member(
                        member_id=row["member_id"], created_at=self._clock(), is_admin=False, language="en"
                    )
                    s.add(m)
                    created += 1
                else:
                    updated += 1
                m.full_name, m.cell_id = row["full_name"], cell.id
                m.contact, m.status = row["contact"], row["status"]
        return ImportReport(created, updated, cells_created)


def parse_members_csv(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """Parse and validate; returns (rows, errors) with 'line N: ...' errors."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    errors: list[str] = []
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing:
        errors.append(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        errors.append(f"line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(CSV_COLUMNS)}")
    if errors:
        return [], errors
    rows: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            errors.append(f"line {line}: too many fields")
            continue
        clean = {k: (v or "").strip() for k, v in row.items()}
        clean.setdefault("contact", "")
        clean["status"] = clean.get("status") or "active"
        mid = clean["member_id"].upper()
        clean["member_id"] = mid
        if not MEMBER_ID_RE.match(mid):
            errors.append(f"line {line}: member_id {mid!r} is not valid (2-32 of A-Z, 0-9 and '-')")
        elif mid in seen:
            errors.append(f"line {line}: member_id {mid} already on line {seen[mid]}")
        else:
            seen[mid] = line
        for col, limit in (("full_name", 200), ("cell", 200), ("contact", 200)):
            if col in CSV_REQUIRED and not clean[col]:
                errors.append(f"line {line}: {col} is empty")
            elif len(clean[col]) > limit:
                errors.append(f"line {line}: {col} is longer than {limit} characters")
        if clean["status"] not in STATUSES:
            errors.append(f"line {line}: status {clean['status']!r} is not one of {', '.join(STATUSES)}")
        rows.append(clean)
    if not rows and not errors:
        errors.append("line 2: the file has no members")
    return rows, errors
