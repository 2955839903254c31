"""Participation across meetings, computed from the signed minutes only.

Pure (no I/O). :func:`summarise_meeting` folds one meeting's minutes entries (through
:func:`recorder.facts.read_facts`) into a small :class:`MeetingSummary`;
:func:`committee_figures` aggregates the summaries of a committee's cells over a
period into the figures a committee acts on. The daemon caches summaries; ``meetingd
report verify`` recomputes them from export bundles and must get the same figures.

Only what the minutes say is used: who was entitled (voting participants named when
the meeting opened), who attended and how (first mode seen: main room, sub-site,
remote), speeches (floor given), for each poll who took part (for a secret poll only
the fact of voting, from ``voter_marked``) plus hand counts, and whether the quorum
was ever reached. The one figure that is not in any minutes is how many meetings
were *scheduled*: the caller passes it (meetings that never opened have no log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from recorder.facts import ATTENDANCE_MODES, read_facts

FIGURES_VERSION = "meetingd-committee-figures/v1"
SUMMARY_FORMAT = "meetingd-meeting-summary/v2"  # MeetingSummary.to_dict
DEFAULT_ABSENT_RUN = 3


@dataclass(frozen=True)
class PollSummary:
    poll_id: str
    secret: bool
    entitled: int
    voters: tuple[str, ...]  # member ids that voted electronically
    hands: int  # hand-counted votes recorded by the secretary

    @property
    def voted(self) -> int:
        return len(self.voters) + self.hands


@dataclass(frozen=True)
class MeetingSummary:
    meeting_id: str
    cell: str
    opened_at: str
    closed_at: str | None
    quorate: bool
    entitled: tuple[str, ...]
    attended: Mapping[str, str]  # member id -> mode
    excused: tuple[str, ...]
    speeches: Mapping[str, int]
    polls: tuple[PollSummary, ...]
    names: Mapping[str, str]

    @property
    def month(self) -> str:
        return self.opened_at[:7]

    @cached_property
    def entitled_rows(self) -> tuple[tuple[str, str | None, str | None, bool, int], ...]:
        """Per entitled member, in order: (member id, name, mode or None, excused, speeches)."""
        excused = set(self.excused)
        names, attended, speeches = self.names, self.attended, self.speeches
        return tuple(
            (m, names.get(m), attended.get(m), m in excused, speeches.get(m, 0)) for m in self.entitled
        )

    def to_dict(self) -> dict[str, Any]:
        """A compact, lossless form (:data:`SUMMARY_FORMAT`): each person once, by index.

        ``people`` lists every member id the summary names, sorted, as ``[member_id,
        name or null, flags (1 entitled, 2 excused), mode or null, speeches or null]``;
        a poll's voters are indexes into it."""
        ids = sorted(
            set(self.entitled)
            | set(self.attended)
            | set(self.excused)
            | set(self.speeches)
            | set(self.names)
            | {v for p in self.polls for v in p.voters}
        )
        index = {m: i for i, m in enumerate(ids)}
        entitled, excused = set(self.entitled), set(self.excused)
        return {
            "v": SUMMARY_FORMAT,
            "meeting_id": self.meeting_id,
            "cell": self.cell,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "quorate": self.quorate,
            "people": [
                [
                    m,
                    self.names.get(m),
                    int(m in entitled) | int(m in excused) << 1,
                    self.attended.get(m),
                    self.speeches.get(m),
                ]
                for m in ids
            ],
            "polls": [
                [p.poll_id, p.secret, p.entitled, p.hands, [index[v] for v in p.voters]] for p in self.polls
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MeetingSummary:
        if d.get("v") != SUMMARY_FORMAT:
            raise ValueError(f"not a {SUMMARY_FORMAT} summary")
        people = d["people"]
        ids = [p[0] for p in people]
        return cls(
            str(d["meeting_id"]),
            d["cell"],
            d["opened_at"],
            d["closed_at"],
            d["quorate"],
            tuple(p[0] for p in people if p[2] & 1),
            {p[0]: p[3] for p in people if p[3] is not None},
            tuple(p[0] for p in people if p[2] & 2),
            {p[0]: p[4] for p in people if p[4] is not None},
            tuple(
                PollSummary(poll_id, secret, entitled, tuple(ids[i] for i in voters), hands)
                for poll_id, secret, entitled, hands, voters in d["polls"]
            ),
            {p[0]: p[1] for p in people if p[1] is not None},
        )


def _hands(poll_tally: Mapping[str, Any] | None) -> int:
    """Hands counted, from the published result (a re-entered count replaces a site's)."""
    hand = poll_tally.get("hand") if isinstance(poll_tally, Mapping) else None
    ballots = hand.get("ballots") if isinstance(hand, Mapping) else None
    return ballots if isinstance(ballots, int) and not isinstance(ballots, bool) else 0


# The entry types the figures depend on; every other entry (leaving, agenda, notes,
# recordings, the seal...) changes none of them, so it is skipped before folding. The
# daemon reads only these from storage; a bundle's other entries are skipped here.
SUMMARY_TYPES = frozenset(
    {
        "meeting_opened",
        "meeting_closed",
        "member_joined",
        "member_checked_in",
        "member_excused",
        "quorum_reached",
        "quorum_lost",
        "quorum_changed",
        "quorum_checked",
        "quorum_rule_set",
        "floor_given",
        "speech_ended",
        "poll_opened",
        "ballot_cast",
        "voter_marked",
        "poll_result",
    }
)


def summarise_meeting(entries: Sequence[Mapping[str, Any]]) -> MeetingSummary:
    """One closed meeting's figures from its minutes entries (log order)."""
    f = read_facts([e for e in entries if e.get("type") in SUMMARY_TYPES])
    entitled = tuple(sorted(p.member_id for p in f.entitled))
    attended = {
        p.member_id: (p.attendance if p.attendance in ATTENDANCE_MODES else "remote")
        for p in f.people.values()
        if p.present and p.votes
    }
    quorate = any(q.get("type") == "quorum_reached" or q.get("quorate") is True for q in f.quorum)
    polls = tuple(
        PollSummary(
            poll.poll_id,
            poll.secret,
            len(entitled),
            tuple(sorted(v for v in poll.voters if v)),
            _hands(poll.tally),
        )
        for poll in f.polls.values()
        if poll.opened_at
    )
    return MeetingSummary(
        meeting_id=str(f.meeting_id),
        cell=f.cell,
        opened_at=f.opened_at or "",
        closed_at=f.closed_at,
        quorate=quorate,
        entitled=entitled,
        attended=attended,
        excused=tuple(
            sorted(p.member_id for p in f.people.values() if p.excused and not p.present and p.votes)
        ),
        speeches={p.member_id: p.speeches for p in f.people.values() if p.speeches},
        polls=polls,
        names={p.member_id: p.full_name for p in f.people.values() if p.votes},
    )


def rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _in_period(s: MeetingSummary, start: str, end: str) -> bool:
    day = s.opened_at[:10]
    return start <= day <= end


class _MemberTally:
    """One member's running figures while :func:`committee_figures` folds the meetings."""

    __slots__ = (
        "attended",
        "by_mode",
        "cell",
        "entitled",
        "excused",
        "full_name",
        "longest",
        "polls_eligible",
        "polls_voted",
        "run",
        "secret_polls_voted",
        "speeches",
        "tracked",
    )

    def __init__(self, full_name: str) -> None:
        self.full_name = full_name
        self.cell = ""
        self.entitled = self.attended = self.excused = self.speeches = 0
        self.polls_eligible = self.polls_voted = self.secret_polls_voted = 0
        self.by_mode = dict.fromkeys(ATTENDANCE_MODES, 0)
        self.run = self.longest = 0  # absences in a row (an excused absence neither breaks nor adds)
        self.tracked = False  # attended or absent (not only excused) at least once

    def row(self, member_id: str) -> dict[str, Any]:
        return {
            "member_id": member_id,
            "full_name": self.full_name,
            "cell": self.cell,
            "entitled": self.entitled,
            "attended": self.attended,
            "excused": self.excused,
            "by_mode": self.by_mode,
            "speeches": self.speeches,
            "polls_eligible": self.polls_eligible,
            "polls_voted": self.polls_voted,
            "secret_polls_voted": self.secret_polls_voted,
            "longest_absence_run": self.longest,
            "attendance_rate": rate(self.attended, self.entitled),
            "turnout": rate(self.polls_voted, self.polls_eligible),
        }


def committee_figures(
    summaries: Sequence[MeetingSummary],
    *,
    cells: Sequence[str],
    scheduled: Mapping[str, int],
    start: str,
    end: str,
    absent_run: int = DEFAULT_ABSENT_RUN,
) -> dict[str, Any]:
    """Figures for ``cells`` (names) between ``start`` and ``end`` (YYYY-MM-DD, inclusive).

    Meetings outside the period or of other cells are ignored, so the caller may pass more.
    One pass over the meetings in order (each member's figures, including their longest
    run of absences, are running tallies): the daemon folds a committee's year of
    meetings with it on every changed report.
    """
    wanted = set(cells)
    meetings = sorted(
        (s for s in summaries if s.cell in wanted and s.closed_at and _in_period(s, start, end)),
        key=lambda s: (s.opened_at, s.meeting_id),
    )
    per_cell: dict[str, dict[str, Any]] = {
        c: {
            "cell": c,
            "held": 0,
            "scheduled": int(scheduled.get(c, 0)),
            "entitled": 0,
            "attended": 0,
            "quorate": 0,
            "speeches": 0,
            "polls": 0,
            "poll_entitled": 0,
            "poll_voted": 0,
            "months": {},
        }
        for c in sorted(wanted)
    }
    members: dict[str, _MemberTally] = {}
    poll_rows: list[dict[str, Any]] = []
    without_quorum: list[dict[str, Any]] = []
    for s in meetings:
        c = per_cell[s.cell]
        attended, npolls, cell = s.attended, len(s.polls), s.cell
        c["held"] += 1
        c["entitled"] += len(s.entitled)
        c["attended"] += len(attended)
        c["quorate"] += int(s.quorate)
        month = c["months"].get(s.month)
        if month is None:
            month = c["months"][s.month] = {"month": s.month, "held": 0, "entitled": 0, "attended": 0}
        month["held"] += 1
        month["entitled"] += len(s.entitled)
        month["attended"] += len(attended)
        if not s.quorate:
            without_quorum.append(
                {
                    "meeting_id": s.meeting_id,
                    "cell": s.cell,
                    "opened_at": s.opened_at,
                    "closed_at": s.closed_at,
                }
            )
        spoke = 0
        for mid, name, mode, was_excused, said in s.entitled_rows:
            m = members.get(mid)
            if m is None:
                m = members[mid] = _MemberTally(name or "")
            m.cell = cell  # the latest meeting's cell (members transfer)
            if name:
                m.full_name = name
            m.entitled += 1
            if mode is not None:
                m.attended += 1
                m.by_mode[mode] += 1
                m.run = 0
                m.tracked = True
            elif was_excused:
                m.excused += 1
            else:
                m.run += 1
                m.tracked = True
                if m.run > m.longest:
                    m.longest = m.run
            m.speeches += said
            spoke += said
            m.polls_eligible += npolls
        c["speeches"] += spoke
        for p in s.polls:
            for v in p.voters:
                voter = members.get(v)
                if voter is not None:
                    voter.polls_voted += 1
                    voter.secret_polls_voted += int(p.secret)
            c["polls"] += 1
            c["poll_entitled"] += p.entitled
            c["poll_voted"] += p.voted
            poll_rows.append(
                {
                    "meeting_id": s.meeting_id,
                    "cell": s.cell,
                    "poll_id": p.poll_id,
                    "secret": p.secret,
                    "entitled": p.entitled,
                    "voted": p.voted,
                    "turnout": rate(p.voted, p.entitled),
                }
            )
    absent = [
        {"member_id": mid, "cell": m.cell, "run": m.longest}
        for mid, m in members.items()
        if m.tracked and m.longest >= absent_run
    ]
    cell_rows = []
    for c in per_cell.values():
        months = [
            dict(mo, attendance_rate=rate(mo["attended"], mo["entitled"]))
            for _, mo in sorted(c.pop("months").items())
        ]
        pe, pv = c.pop("poll_entitled"), c.pop("poll_voted")
        cell_rows.append(
            {
                **c,
                "attendance_rate": rate(c["attended"], c["entitled"]),
                "without_quorum": c["held"] - c["quorate"],
                "turnout": rate(pv, pe),
                "months": months,
            }
        )
    member_rows = [m.row(mid) for mid, m in sorted(members.items(), key=lambda kv: (kv[1].cell, kv[0]))]
    entitled = sum(c["entitled"] for c in cell_rows)
    attended = sum(c["attended"] for c in cell_rows)
    return {
        "format": FIGURES_VERSION,
        "from": start,
        "to": end,
        "absent_run": absent_run,
        "totals": {
            "cells": len(cell_rows),
            "held": len(meetings),
            "scheduled": sum(c["scheduled"] for c in cell_rows),
            "entitled": entitled,
            "attended": attended,
            "attendance_rate": rate(attended, entitled),
            "quorate": sum(c["quorate"] for c in cell_rows),
            "polls": len(poll_rows),
            "turnout": rate(sum(p["voted"] for p in poll_rows), sum(p["entitled"] for p in poll_rows)),
        },
        "cells": cell_rows,
        "members": member_rows,
        "polls": poll_rows,
        "flags": {
            "absent_in_a_row": sorted(absent, key=lambda a: (-a["run"], a["member_id"])),
            "cells_without_meetings": [c["cell"] for c in cell_rows if c["held"] == 0],
            "closed_without_quorum": without_quorum,
        },
    }


def member_timeline(summaries: Sequence[MeetingSummary], member_id: str) -> list[dict[str, Any]]:
    """Every closed meeting the member was entitled to, in order, and how they took part."""
    out = []
    for s in sorted(summaries, key=lambda s: (s.opened_at, s.meeting_id)):
        if member_id not in s.entitled or not s.closed_at:
            continue
        mode = s.attended.get(member_id)
        out.append(
            {
                "meeting_id": s.meeting_id,
                "cell": s.cell,
                "opened_at": s.opened_at,
                "attendance": mode or ("excused" if member_id in s.excused else "absent"),
                "speeches": s.speeches.get(member_id, 0),
                "polls": len(s.polls),
                "voted": sum(member_id in p.voters for p in s.polls),
            }
        )
    return out
