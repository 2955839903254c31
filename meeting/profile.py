"""A member's e-profile: positions, training, rewards, discipline, transfers, status.

Pure. A profile is never stored as editable rows: it is the fold (:func:`fold_profile`)
of the member's ``profile_change`` entries in the organisation log, so every change is
an attributed event (who, when, why) and a correction is a new event that names the
one it corrects. :func:`parse_change` checks a requested change (dates, fields,
overlapping positions) against the profile as it stands; :func:`check_edit` applies the
access rules.

Change kinds and their ``data`` fields (dates are ``YYYY-MM-DD``; ``to`` may be empty
for "still going")::

    position     title, unit, from, to        no two positions in one unit may overlap
    training     course, from, to, result
    reward       title, date
    discipline   measure, date
    transfer     cell, date                   the member moves to that cell
    status       status, date                 active | suspended | left
    correction   corrects (seq of a change), retract (bool) or the corrected fields
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import InvalidInput, NotAuthorised
from .organisation import OrgTree, Viewer

STATUSES = ("active", "suspended", "left")
FIELDS: dict[str, dict[str, bool]] = {  # kind -> field -> required
    "position": {"title": True, "unit": False, "from": True, "to": False},
    "training": {"course": True, "from": True, "to": False, "result": False},
    "reward": {"title": True, "date": True},
    "discipline": {"measure": True, "date": True},
    "transfer": {"cell": True, "date": True},
    "status": {"status": True, "date": True},
}
KINDS = (*FIELDS, "correction")
DATE_FIELDS = ("from", "to", "date")
# What a member may record about themself: their own training, nothing else.
SELF_KINDS = frozenset({"training"})
MAX_TEXT = 300


@dataclass
class Record:
    """One item of a profile section, as it stands after corrections."""

    seq: int
    kind: str
    data: dict[str, Any]
    at: str
    by: str
    reason: str
    corrected_by: list[int] = field(default_factory=list)
    retracted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            **self.data,
            "at": self.at,
            "by": self.by,
            "reason": self.reason,
            "corrected_by": list(self.corrected_by),
            "retracted": self.retracted,
        }


@dataclass
class Profile:
    member_id: str
    records: dict[int, Record] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # every change entry, in order

    def section(self, kind: str, *, include_retracted: bool = False) -> list[Record]:
        return [r for r in self.records.values() if r.kind == kind and (include_retracted or not r.retracted)]

    def to_dict(self) -> dict[str, Any]:
        sections = {kind: [r.to_dict() for r in self.section(kind)] for kind in FIELDS}
        return {"member_id": self.member_id, **sections, "history": [dict(h) for h in self.history]}


def _day(value: Any, name: str) -> date:
    if not isinstance(value, str):
        raise InvalidInput(f"data.{name} must be a date YYYY-MM-DD", field=f"data.{name}")
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"data.{name} {value!r} is not a date YYYY-MM-DD", field=f"data.{name}") from None


def _clean(kind: str, data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    spec = FIELDS[kind]
    unknown = sorted(set(data) - set(spec))
    if unknown:
        raise InvalidInput(f"data.{unknown[0]} is not a field of a {kind}", field=f"data.{unknown[0]}")
    out: dict[str, Any] = {}
    for name, required in spec.items():
        value = data.get(name, None if partial else "")
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"data.{name} must be a string", field=f"data.{name}")
        value = value.strip()
        if required and not value and not partial:
            raise InvalidInput(f"data.{name} must not be empty", field=f"data.{name}")
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"data.{name} must be at most {MAX_TEXT} characters", field=f"data.{name}")
        if name in DATE_FIELDS and value:
            _day(value, name)
        out[name] = value
    if kind == "status" and "status" in out and out["status"] not in STATUSES:
        raise InvalidInput(f"data.status must be one of {', '.join(STATUSES)}", field="data.status")
    return out


def _span(data: Mapping[str, Any]) -> tuple[date, date]:
    start = _day(data["from"], "from")
    end = _day(data["to"], "to") if data.get("to") else date.max
    if end < start:
        raise InvalidInput(f"data.to {data['to']} is before data.from {data['from']}", field="data.to")
    return start, end


def parse_change(profile: Profile, kind: Any, data: Any) -> dict[str, Any]:
    """Check a requested change against the profile; return its clean data."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not isinstance(data, Mapping):
        raise InvalidInput("data must be an object", field="data")
    if kind == "correction":
        return _parse_correction(profile, data)
    clean = _clean(kind, data)
    if "from" in clean:
        _span(clean)
    if kind == "position":
        _check_overlap(profile, clean, ignore=None)
    return clean


def _parse_correction(profile: Profile, data: Mapping[str, Any]) -> dict[str, Any]:
    target = data.get("corrects")
    if not isinstance(target, int) or isinstance(target, bool):
        raise InvalidInput("data.corrects must be the seq of a change", field="data.corrects")
    rec = profile.records.get(target)
    if rec is None:
        raise InvalidInput(f"data.corrects: change {target} is not in this profile", field="data.corrects")
    if rec.retracted:
        raise InvalidInput(f"data.corrects: change {target} was retracted", field="data.corrects")
    retract = data.get("retract", False)
    if not isinstance(retract, bool):
        raise InvalidInput("data.retract must be true or false", field="data.retract")
    fields = {k: v for k, v in data.items() if k not in ("corrects", "retract")}
    if retract and rec.kind in ("transfer", "status"):
        raise InvalidInput(f"a {rec.kind} is not retracted: record a new {rec.kind}", field="data.retract")
    if retract:
        if fields:
            raise InvalidInput("a retraction carries no fields", field=f"data.{sorted(fields)[0]}")
        return {"corrects": target, "retract": True}
    if not fields:
        raise InvalidInput("a correction names the fields it corrects, or retract", field="data")
    clean = _clean(rec.kind, fields, partial=True)
    moved = {"transfer": "cell", "status": "status"}.get(rec.kind)
    if moved and moved in clean:
        raise InvalidInput(
            f"a {rec.kind} is not corrected by changing its {moved}: record a new {rec.kind}",
            field=f"data.{moved}",
        )
    merged = {**rec.data, **clean}
    if "from" in merged:
        _span(merged)
    if rec.kind == "position":
        _check_overlap(profile, merged, ignore=rec.seq)
    return {"corrects": target, **clean}


def _check_overlap(profile: Profile, new: Mapping[str, Any], ignore: int | None) -> None:
    start, end = _span(new)
    unit = new.get("unit", "")
    for r in profile.section("position"):
        if r.seq == ignore or r.data.get("unit", "") != unit:
            continue
        a, b = _span(r.data)
        if start <= b and a <= end:
            raise InvalidInput(
                f"the position overlaps {r.data['title']!r} ({r.data['from']} to "
                f"{r.data.get('to') or 'now'}, change {r.seq}) in the same unit",
                field="data.from",
            )


def fold_profile(member_id: str, entries: Sequence[Mapping[str, Any]]) -> Profile:
    """The profile from the member's ``profile_change`` entries, in log order."""
    p = Profile(member_id)
    for e in entries:
        if e.get("type") != "profile_change" or e.get("member_id") != member_id:
            continue
        seq, kind = int(e["seq"]), str(e.get("kind"))
        data = dict(e.get("data") or {})
        p.history.append({k: e.get(k) for k in ("seq", "at", "by", "reason", "kind")} | {"data": data})
        if kind == "correction":
            rec = p.records.get(int(data.get("corrects", -1)))
            if rec is None:
                continue
            rec.corrected_by.append(seq)
            if data.get("retract"):
                rec.retracted = True
            else:
                rec.data.update({k: v for k, v in data.items() if k != "corrects"})
        elif kind in FIELDS:
            p.records[seq] = Record(
                seq, kind, data, str(e.get("at")), str(e.get("by")), str(e.get("reason") or "")
            )
    return p


def may_read(tree: OrgTree, viewer: Viewer, member_id: str, cell_id: int) -> bool:
    return viewer.member_id == member_id or tree.may_see_cell(viewer, cell_id)


def check_edit(
    tree: OrgTree, viewer: Viewer, member_id: str, cell_id: int, kind: str, corrected_kind: str | None = None
) -> None:
    """Raise :class:`NotAuthorised` unless the viewer may record this change.

    Administrators may record anything. Officers over the member's cell may record
    anything about others. Nobody records their own positions, rewards, discipline,
    transfers or status: a member (officer or not) records only their own training.
    """
    if viewer.is_admin:
        return
    effective = corrected_kind if kind == "correction" and corrected_kind else kind
    if viewer.member_id == member_id:
        if effective in SELF_KINDS:
            return
        raise NotAuthorised(f"you may not record a {effective} change in your own profile")
    if not tree.may_see_cell(viewer, cell_id):
        raise NotAuthorised(
            "only the member's cell officers, the committees above them "
            "or an administrator may change this profile"
        )
