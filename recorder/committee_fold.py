"""A committee's figures kept folded, one meeting at a time.

Pure (no I/O). :class:`CommitteeFold` holds what :func:`recorder.participation.committee_figures`
accumulates while it folds a period's meetings — per cell and month sums, per member running
tallies, per meeting what it added — so that one more closed meeting extends it in
O(that meeting) and :meth:`CommitteeFold.figures` gives exactly the figures the full fold
gives over the same summaries, whatever order they were added or removed in.

The only figures that depend on order are a member's: their cell and name (the latest
meeting's), their runs of absences, and whether a vote counts (a voter counts once entitled
in that or an earlier meeting). A meeting later than everything a person already has is
a step on their running tally; one earlier than some (a late close, a replaced summary)
makes that person *dirty*: their tally is refolded from the summaries of their own
meetings, which :meth:`CommitteeFold.needs` names so the caller can fetch them first.

The state is JSON-shaped (:meth:`to_dict` / :meth:`from_dict`), so a new process can load a
stored fold and extend it instead of refolding the year. Each meeting carries the caller's
``tag`` (what the summary was computed from) and ``digest``, to tell what changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from recorder.facts import ATTENDANCE_MODES
from recorder.participation import FIGURES_VERSION, SUMMARY_FORMAT, MeetingSummary, rate

FOLD_FORMAT = "meetingd-committee-fold/v1"

# a person's tally: [member?, name, cell, entitled, attended, excused, *modes, speeches,
#                    polls eligible, polls voted, secret polls voted, run, longest, tracked,
#                    latest meeting's opened_at, its meeting id]
MEMBER, NAME, CELL, ENTITLED, ATTENDED, EXCUSED = range(6)
MODE_AT = {mode: 6 + i for i, mode in enumerate(ATTENDANCE_MODES)}
SPEECHES = 6 + len(ATTENDANCE_MODES)
P_ELIGIBLE, P_VOTED, P_SECRET, RUN, LONGEST, TRACKED, LAST_AT, LAST_ID = range(SPEECHES + 1, SPEECHES + 9)

# a cell's sums: held, entitled, attended, quorate, speeches, polls, poll entitled, poll voted
HELD, C_ENTITLED, C_ATTENDED, QUORATE, C_SPEECHES, POLLS, POLL_ENTITLED, POLL_VOTED = range(8)


def _new_tally() -> list[Any]:
    return [0, "", "", 0, 0, 0, *([0] * len(ATTENDANCE_MODES)), 0, 0, 0, 0, 0, 0, 0, "", ""]


def _order(s: MeetingSummary) -> tuple[str, str]:
    return (s.opened_at, s.meeting_id)


def _people(s: MeetingSummary) -> list[str]:
    return sorted(set(s.entitled) | {v for p in s.polls for v in p.voters})


class CommitteeFold:
    def __init__(self, cells: Iterable[str], start: str, end: str) -> None:
        self.cells = sorted(set(cells))
        self.start, self.end = start, end
        self._wanted = set(self.cells)
        self.meetings: dict[str, dict[str, Any]] = {}  # by the caller's key
        self._tallies: dict[str, list[Any]] = {}  # by member id (voters never entitled too)
        self._sums: dict[str, list[int]] = {c: [0] * 8 for c in self.cells}
        self._months: dict[str, dict[str, list[int]]] = {c: {} for c in self.cells}
        self.refolded = 0  # people whose tally was refolded from their meetings (tests read it)

    # -- what changes ------------------------------------------------------------------------

    def counts(self, s: MeetingSummary) -> bool:
        """Whether the full fold counts the meeting (the period's, of these cells, closed)."""
        return s.cell in self._wanted and bool(s.closed_at) and self.start <= s.opened_at[:10] <= self.end

    def moved_to(self, start: str, end: str) -> list[str]:
        """Make this the fold of another period: the meetings it no longer counts are
        returned (remove them with :meth:`needs` / :meth:`apply`); those it now counts are
        forgotten (the caller adds them again from their summaries)."""
        self.start, self.end = start, end
        gone = []
        for key, rec in list(self.meetings.items()):
            now = (
                rec["cell"] in self._wanted
                and bool(rec["closed_at"])
                and start <= rec["opened_at"][:10] <= end
            )
            if rec["counted"] and not now:
                gone.append(key)
            elif now and not rec["counted"]:
                del self.meetings[key]
        return gone

    def _dirty(self, added: Mapping[str, MeetingSummary], removed: Iterable[str]) -> set[str]:
        dirty: set[str] = set()
        for key in removed:
            rec = self.meetings.get(key)
            if rec is not None and rec["counted"]:
                dirty.update(rec["people"])
        first: dict[str, tuple[str, str]] = {}
        for s in added.values():
            if self.counts(s):
                k = _order(s)
                for p in _people(s):
                    if p not in first or k < first[p]:
                        first[p] = k
        for p, k in first.items():
            t = self._tallies.get(p)
            if t is not None and (t[LAST_AT], t[LAST_ID]) >= k:
                dirty.add(p)
        return dirty

    def needs(self, added: Mapping[str, MeetingSummary], removed: Iterable[str] = ()) -> set[str]:
        """Keys of the meetings (kept, not being added or removed) whose summaries
        :meth:`apply` needs as ``history`` for these changes: none when each added meeting
        comes after everything its people already have."""
        gone = set(removed) | (set(added) & set(self.meetings))
        dirty = self._dirty(added, gone)
        if not dirty:
            return set()
        return {
            key
            for key, rec in self.meetings.items()
            if rec["counted"] and key not in gone and key not in added and not dirty.isdisjoint(rec["people"])
        }

    def apply(
        self,
        added: Mapping[str, MeetingSummary],
        removed: Iterable[str] = (),
        *,
        tags: Mapping[str, Any] | None = None,
        digests: Mapping[str, str] | None = None,
        history: Mapping[str, MeetingSummary] | None = None,
    ) -> None:
        """Remove the meetings ``removed`` (keys), then add ``added`` (key -> summary; a key
        kept already is replaced). ``history`` holds the summaries :meth:`needs` named."""
        gone = set(removed) | (set(added) & set(self.meetings))
        dirty = self._dirty(added, gone)
        for key in gone:
            self._remove(key)
        tags, digests = tags or {}, digests or {}
        for key, s in sorted(added.items(), key=lambda kv: _order(kv[1])):
            self._add(key, s, tags.get(key), digests.get(key, ""), dirty)
        if dirty:
            self._refold(dirty, {**(history or {}), **added})

    def retag(self, key: str, tag: Any) -> None:
        """The meeting's summary is the same, computed over a longer log (a seal)."""
        self.meetings[key]["tag"] = tag

    def _remove(self, key: str) -> None:
        rec = self.meetings.pop(key, None)
        if rec is None or not rec["counted"]:
            return
        sums = self._sums[rec["cell"]]
        for i, v in enumerate(self._contribution(rec)):
            sums[i] -= v
        months = self._months[rec["cell"]]
        mo = months[rec["month"]]
        mo[0] -= 1
        mo[1] -= rec["entitled"]
        mo[2] -= rec["attended"]
        if mo[0] == 0:
            del months[rec["month"]]

    @staticmethod
    def _contribution(rec: Mapping[str, Any]) -> tuple[int, ...]:
        polls = rec["polls"]
        return (
            1,
            rec["entitled"],
            rec["attended"],
            int(rec["quorate"]),
            rec["speeches"],
            len(polls),
            sum(p[2] for p in polls),
            sum(p[3] for p in polls),
        )

    def _add(self, key: str, s: MeetingSummary, tag: Any, digest: str, dirty: set[str]) -> None:
        rec: dict[str, Any] = {
            "opened_at": s.opened_at,
            "mid": s.meeting_id,
            "cell": s.cell,
            "closed_at": s.closed_at,
            "tag": tag,
            "digest": digest,
            "counted": self.counts(s),
        }
        self.meetings[key] = rec
        if not rec["counted"]:
            return
        rec.update(
            month=s.month,
            entitled=len(s.entitled),
            attended=len(s.attended),
            quorate=s.quorate,
            speeches=sum(row[4] for row in s.entitled_rows),
            polls=[[p.poll_id, p.secret, p.entitled, p.voted] for p in s.polls],
            people=_people(s),
        )
        sums = self._sums[s.cell]
        for i, v in enumerate(self._contribution(rec)):
            sums[i] += v
        mo = self._months[s.cell].setdefault(s.month, [0, 0, 0])
        mo[0] += 1
        mo[1] += rec["entitled"]
        mo[2] += rec["attended"]
        tallies = self._tallies
        for row in s.entitled_rows:
            if row[0] not in dirty:
                _step(tallies.setdefault(row[0], _new_tally()), row, s.cell, len(s.polls))
        for p in s.polls:
            for voter in p.voters:
                if voter not in dirty:
                    _vote(tallies.setdefault(voter, _new_tally()), p.secret)
        for person in rec["people"]:
            if person not in dirty:
                t = tallies[person]
                t[LAST_AT], t[LAST_ID] = s.opened_at, s.meeting_id

    def _refold(self, dirty: set[str], summaries: Mapping[str, MeetingSummary]) -> None:
        """Each dirty person's tally again, from their meetings in the full fold's order."""
        theirs: dict[str, list[str]] = {p: [] for p in dirty}
        for key, rec in self.meetings.items():
            if rec["counted"]:
                for person in rec["people"]:
                    if person in dirty:
                        theirs[person].append(key)
        for person, keys in theirs.items():
            self.refolded += 1
            if not keys:
                self._tallies.pop(person, None)
                continue
            missing = [k for k in keys if k not in summaries]
            if missing:
                raise KeyError(f"the fold needs the summaries of meetings {sorted(missing)}")
            t = self._tallies[person] = _new_tally()
            for s in sorted((summaries[k] for k in keys), key=_order):
                for row in s.entitled_rows:
                    if row[0] == person:
                        _step(t, row, s.cell, len(s.polls))
                for p in s.polls:
                    for v in p.voters:
                        if v == person:
                            _vote(t, p.secret)
                t[LAST_AT], t[LAST_ID] = s.opened_at, s.meeting_id

    # -- the figures -------------------------------------------------------------------------

    def figures(self, scheduled: Mapping[str, int], absent_run: int, *, rows: bool = True) -> dict[str, Any]:
        """What :func:`committee_figures` gives over the meetings kept; ``rows=False`` leaves
        out the per-member and per-poll rows (the committee page's figures)."""
        meetings = sorted(
            (r for r in self.meetings.values() if r["counted"]), key=lambda r: (r["opened_at"], r["mid"])
        )
        cell_rows: list[dict[str, Any]] = []
        for c in self.cells:
            held, entitled, attended, quorate, speeches, polls, pe, pv = self._sums[c]
            cell_rows.append(
                {
                    "cell": c,
                    "held": held,
                    "scheduled": int(scheduled.get(c, 0)),
                    "entitled": entitled,
                    "attended": attended,
                    "quorate": quorate,
                    "speeches": speeches,
                    "polls": polls,
                    "attendance_rate": rate(attended, entitled),
                    "without_quorum": held - quorate,
                    "turnout": rate(pv, pe),
                    "months": [
                        {
                            "month": month,
                            "held": mo[0],
                            "entitled": mo[1],
                            "attended": mo[2],
                            "attendance_rate": rate(mo[2], mo[1]),
                        }
                        for month, mo in sorted(self._months[c].items())
                    ],
                }
            )
        members = {mid: t for mid, t in self._tallies.items() if t[MEMBER]}
        absent = [
            {"member_id": mid, "cell": t[CELL], "run": t[LONGEST]}
            for mid, t in members.items()
            if t[TRACKED] and t[LONGEST] >= absent_run
        ]
        entitled = sum(c["entitled"] for c in cell_rows)
        attended = sum(c["attended"] for c in cell_rows)
        poll_entitled = sum(self._sums[c][POLL_ENTITLED] for c in self.cells)
        poll_voted = sum(self._sums[c][POLL_VOTED] for c in self.cells)
        out: dict[str, Any] = {
            "format": FIGURES_VERSION,
            "from": self.start,
            "to": self.end,
            "absent_run": absent_run,
            "totals": {
                "cells": len(cell_rows),
                "held": len(meetings),
                "scheduled": sum(c["scheduled"] for c in cell_rows),
                "entitled": entitled,
                "attended": attended,
                "attendance_rate": rate(attended, entitled),
                "quorate": sum(c["quorate"] for c in cell_rows),
                "polls": sum(c["polls"] for c in cell_rows),
                "turnout": rate(poll_voted, poll_entitled),
            },
            "cells": cell_rows,
        }
        if rows:
            out["members"] = [
                _member_row(mid, t) for mid, t in sorted(members.items(), key=lambda kv: (kv[1][CELL], kv[0]))
            ]
            out["polls"] = [
                {
                    "meeting_id": r["mid"],
                    "cell": r["cell"],
                    "poll_id": poll_id,
                    "secret": secret,
                    "entitled": n,
                    "voted": voted,
                    "turnout": rate(voted, n),
                }
                for r in meetings
                for poll_id, secret, n, voted in r["polls"]
            ]
        out["flags"] = {
            "absent_in_a_row": sorted(absent, key=lambda a: (-a["run"], a["member_id"])),
            "cells_without_meetings": [c["cell"] for c in cell_rows if c["held"] == 0],
            "closed_without_quorum": [
                {
                    "meeting_id": r["mid"],
                    "cell": r["cell"],
                    "opened_at": r["opened_at"],
                    "closed_at": r["closed_at"],
                }
                for r in meetings
                if not r["quorate"]
            ],
        }
        return out

    # -- stored form -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The stored form; a meeting's people are indexes into ``tallies`` (in its order)."""
        index = {person: i for i, person in enumerate(self._tallies)}
        return {
            "v": FOLD_FORMAT,
            "summary_format": SUMMARY_FORMAT,
            "figures_format": FIGURES_VERSION,
            "cells": self.cells,
            "start": self.start,
            "end": self.end,
            "meetings": {
                key: {**rec, "people": [index[p] for p in rec["people"]]} if rec["counted"] else rec
                for key, rec in self.meetings.items()
            },
            "tallies": self._tallies,
            "sums": self._sums,
            "months": self._months,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CommitteeFold:
        """A stored fold; :class:`ValueError` when it was made by other code (formats)."""
        if (d.get("v"), d.get("summary_format"), d.get("figures_format")) != (
            FOLD_FORMAT,
            SUMMARY_FORMAT,
            FIGURES_VERSION,
        ):
            raise ValueError(f"not a {FOLD_FORMAT} fold of {SUMMARY_FORMAT} summaries")
        fold = cls(d["cells"], d["start"], d["end"])
        if fold.cells != list(d["cells"]):
            raise ValueError("the fold's cells are not sorted and distinct")
        fold._tallies = dict(d["tallies"])
        people = list(fold._tallies)
        fold.meetings = dict(d["meetings"])
        for rec in fold.meetings.values():
            if rec["counted"]:
                rec["people"] = [people[i] for i in rec["people"]]
        fold._sums = {c: list(d["sums"][c]) for c in fold.cells}
        fold._months = {c: dict(d["months"][c]) for c in fold.cells}
        return fold


def _step(t: list[Any], row: Sequence[Any], cell: str, npolls: int) -> None:
    """One meeting the member was entitled to, as :func:`committee_figures` folds it."""
    _, name, mode, was_excused, said = row
    if not t[MEMBER]:
        t[MEMBER], t[NAME] = 1, name or ""
    t[CELL] = cell
    if name:
        t[NAME] = name
    t[ENTITLED] += 1
    if mode is not None:
        t[ATTENDED] += 1
        t[MODE_AT[mode]] += 1
        t[RUN] = 0
        t[TRACKED] = 1
    elif was_excused:
        t[EXCUSED] += 1
    else:
        t[RUN] += 1
        t[TRACKED] = 1
        if t[RUN] > t[LONGEST]:
            t[LONGEST] = t[RUN]
    t[SPEECHES] += said
    t[P_ELIGIBLE] += npolls


def _vote(t: list[Any], secret: bool) -> None:
    if t[MEMBER]:  # a vote counts once the voter was entitled in this or an earlier meeting
        t[P_VOTED] += 1
        t[P_SECRET] += int(secret)


def _member_row(member_id: str, t: Sequence[Any]) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "full_name": t[NAME],
        "cell": t[CELL],
        "entitled": t[ENTITLED],
        "attended": t[ATTENDED],
        "excused": t[EXCUSED],
        "by_mode": {mode: t[i] for mode, i in MODE_AT.items()},
        "speeches": t[SPEECHES],
        "polls_eligible": t[P_ELIGIBLE],
        "polls_voted": t[P_VOTED],
        "secret_polls_voted": t[P_SECRET],
        "longest_absence_run": t[LONGEST],
        "attendance_rate": rate(t[ATTENDED], t[ENTITLED]),
        "turnout": rate(t[P_VOTED], t[P_ELIGIBLE]),
    }
