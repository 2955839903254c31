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
from typing import Any

from recorder.facts import ATTENDANCE_MODES, read_facts

FIGURES_VERSION = "meetingd-committee-figures/v1"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "cell": self.cell,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "quorate": self.quorate,
            "entitled": list(self.entitled),
            "attended": dict(self.attended),
            "excused": list(self.excused),
            "speeches": dict(self.speeches),
            "polls": [
                {
                    "poll_id": p.poll_id,
                    "secret": p.secret,
                    "entitled": p.entitled,
                    "voters": list(p.voters),
                    "hands": p.hands,
                }
                for p in self.polls
            ],
            "names": dict(self.names),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MeetingSummary:
        return cls(
            str(d["meeting_id"]),
            d["cell"],
            d["opened_at"],
            d["closed_at"],
            d["quorate"],
            tuple(d["entitled"]),
            dict(d["attended"]),
            tuple(d["excused"]),
            dict(d["speeches"]),
            tuple(
                PollSummary(p["poll_id"], p["secret"], p["entitled"], tuple(p["voters"]), p["hands"])
                for p in d["polls"]
            ),
            dict(d["names"]),
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
    members: dict[str, dict[str, Any]] = {}
    poll_rows: list[dict[str, Any]] = []
    without_quorum: list[dict[str, Any]] = []
    history: dict[str, list[bool]] = {}  # member -> attended? per entitled meeting, in order
    for s in meetings:
        c = per_cell[s.cell]
        c["held"] += 1
        c["entitled"] += len(s.entitled)
        c["attended"] += len(s.attended)
        c["quorate"] += int(s.quorate)
        c["speeches"] += sum(s.speeches.get(m, 0) for m in s.entitled)
        month = c["months"].setdefault(s.month, {"month": s.month, "held": 0, "entitled": 0, "attended": 0})
        month["held"] += 1
        month["entitled"] += len(s.entitled)
        month["attended"] += len(s.attended)
        if not s.quorate:
            without_quorum.append(
                {
                    "meeting_id": s.meeting_id,
                    "cell": s.cell,
                    "opened_at": s.opened_at,
                    "closed_at": s.closed_at,
                }
            )
        excused = set(s.excused)
        for mid in s.entitled:
            m = members.setdefault(
                mid,
                {
                    "member_id": mid,
                    "full_name": s.names.get(mid, ""),
                    "cell": s.cell,
                    "entitled": 0,
                    "attended": 0,
                    "excused": 0,
                    "by_mode": dict.fromkeys(ATTENDANCE_MODES, 0),
                    "speeches": 0,
                    "polls_eligible": 0,
                    "polls_voted": 0,
                    "secret_polls_voted": 0,
                },
            )
            m["cell"] = s.cell  # the latest meeting's cell (members transfer)
            m["full_name"] = s.names.get(mid) or m["full_name"]
            m["entitled"] += 1
            mode = s.attended.get(mid)
            if mode is not None:
                m["attended"] += 1
                m["by_mode"][mode] += 1
                history.setdefault(mid, []).append(True)
            elif mid in excused:
                m["excused"] += 1
            else:
                history.setdefault(mid, []).append(False)
            m["speeches"] += s.speeches.get(mid, 0)
            m["polls_eligible"] += len(s.polls)
        for p in s.polls:
            for v in p.voters:
                if v in members:
                    members[v]["polls_voted"] += 1
                    members[v]["secret_polls_voted"] += int(p.secret)
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
    absent: list[dict[str, Any]] = []
    for mid, seen in history.items():
        run = longest = 0
        for present in seen:
            run = 0 if present else run + 1
            longest = max(longest, run)
        members[mid]["longest_absence_run"] = longest
        if longest >= absent_run:
            absent.append({"member_id": mid, "cell": members[mid]["cell"], "run": longest})
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
    member_rows = []
    for m in sorted(members.values(), key=lambda m: (m["cell"], m["member_id"])):
        m.setdefault("longest_absence_run", 0)
        m["attendance_rate"] = rate(m["attended"], m["entitled"])
        m["turnout"] = rate(m["polls_voted"], m["polls_eligible"])
        member_rows.append(m)
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
