"""What a meeting's minutes entries say, as plain data: who attended, who spoke, what was voted.

Pure (no I/O): :func:`read_facts` folds the parsed entries of one log, in log order,
into :class:`MeetingFacts`, which both the rendered minutes (:mod:`recorder.render`) and
the participation report use. Entry types it does not know are kept in
``unknown`` so a renderer can list them; it never fails on an unexpected field.

Entry types understood (fields read, all optional unless said):

* ``meeting_opened`` — title, cell, place, scheduled_for, agenda [{position, title}],
  sites [{id, name}], participants [{member_id, full_name, role}]; ``meeting_closed``.
* attendance — ``member_joined`` / ``member_checked_in`` (member_id, attendance
  ``main_room|sub_site|remote``, site), ``member_left`` / ``member_checked_out``,
  ``member_excused`` (member_id, reason).
* quorum — ``quorum_reached`` / ``quorum_lost`` / ``quorum_changed`` (present, required, quorate).
* procedure — ``agenda_item_started`` (position | item | agenda_item, title),
  ``floor_given`` (member_id), ``speech_ended`` (member_id, duration_ms | duration_s | seconds),
  ``secretary_note`` / ``note_added`` (text), ``motion_added`` (motion_id, text, title),
  ``chair_override`` (what, reason).
* votes — ``poll_opened`` (poll_id, config), ``ballot_cast`` (open polls: voter_id,
  choices, replaces_key), ``voter_marked`` (secret polls: voter_id), ``secret_ballot_stored``
  (receipt, choices), ``hand_count_recorded``, ``poll_closed``, ``poll_result`` (tally,
  outcome, receipts), ``poll_quorum_changed``, ``tally_updated``.
* recordings — ``recording_started`` / ``recording_stopped`` (files [{name, sha256,
  bytes, started_at, ended_at}]), ``recording_file`` (one file's fields).
* ``minutes_rendered`` (lang, sha256, covers, renderer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The roles that vote (meeting.roles.Role.can_vote); a sub-site operator runs the
# site and does not vote, as the live quorum counts it.
VOTING_ROLES = ("chair", "secretary", "member")
ATTENDANCE_MODES = ("main_room", "sub_site", "remote")

_JOIN = {"member_joined", "member_checked_in"}
_LEAVE = {"member_left", "member_checked_out"}
_NOTE = {"secretary_note", "note_added"}
_QUORUM = {"quorum_reached", "quorum_lost", "quorum_changed", "quorum_checked", "quorum_rule_set"}
_RECORDING = {"recording_started", "recording_stopped", "recording_file"}
_POLL = {
    "poll_created",
    "poll_opened",
    "ballot_cast",
    "voter_marked",
    "secret_ballot_stored",
    "hand_count_recorded",
    "poll_closed",
    "poll_result",
    "poll_quorum_changed",
    "tally_updated",
}
KNOWN_TYPES = frozenset(
    {
        "meeting_opened",
        "meeting_closed",
        "member_excused",
        "agenda_item_started",
        "floor_given",
        "speech_ended",
        "motion_added",
        "chair_override",
        "minutes_rendered",
    }
    | _JOIN
    | _LEAVE
    | _NOTE
    | _QUORUM
    | _RECORDING
    | _POLL
)


@dataclass
class Attendee:
    member_id: str
    full_name: str = ""
    role: str = "member"
    attendance: str | None = None  # first mode seen: main_room | sub_site | remote
    site: str | None = None
    joined_at: str | None = None
    excused: str | None = None  # the reason, when excused
    seconds_present: float = 0.0
    _since: str | None = None
    speeches: int = 0
    speaking_seconds: float = 0.0

    @property
    def present(self) -> bool:
        return self.joined_at is not None

    @property
    def votes(self) -> bool:
        return self.role in VOTING_ROLES


@dataclass
class Speech:
    member_id: str
    at: str
    seconds: float | None = None


@dataclass
class Poll:
    poll_id: str
    opened_at: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    quorate: bool | None = None
    closed_at: str | None = None
    close_reason: str | None = None
    tally: Mapping[str, Any] | None = None
    outcome: Mapping[str, Any] | None = None
    receipts: list[Mapping[str, Any]] = field(default_factory=list)
    open_votes: dict[str, list[int]] = field(default_factory=dict)  # voter -> choices
    voters: set[str] = field(default_factory=set)
    hand_counts: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def secret(self) -> bool:
        return self.config.get("kind") == "secret"

    @property
    def options(self) -> list[str]:
        opts = self.config.get("options")
        return [str(o) for o in opts] if isinstance(opts, list) else []


@dataclass
class AgendaSection:
    position: int | None
    title: str
    started_at: str | None = None
    speeches: list[Speech] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (at, text)
    motions: list[Mapping[str, Any]] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)  # poll ids
    overrides: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class MeetingFacts:
    meeting_id: Any = None
    title: str = ""
    cell: str = ""
    place: str = ""
    scheduled_for: str | None = None
    opened_at: str | None = None
    closed_at: str | None = None
    sites: list[str] = field(default_factory=list)
    people: dict[str, Attendee] = field(default_factory=dict)
    quorum: list[Mapping[str, Any]] = field(default_factory=list)
    agenda: list[AgendaSection] = field(default_factory=list)
    polls: dict[str, Poll] = field(default_factory=dict)
    recordings: list[Mapping[str, Any]] = field(default_factory=list)
    rendered: list[Mapping[str, Any]] = field(default_factory=list)
    unknown: list[Mapping[str, Any]] = field(default_factory=list)
    size: int = 0

    def officer(self, role: str) -> Attendee | None:
        return next((p for p in self.people.values() if p.role == role), None)

    @property
    def entitled(self) -> list[Attendee]:
        return [p for p in self.people.values() if p.votes]

    def name(self, member_id: str) -> str:
        p = self.people.get(member_id)
        return p.full_name if p and p.full_name else member_id


def _seconds_between(a: str, b: str) -> float:
    try:
        return max((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds(), 0.0)
    except ValueError:
        return 0.0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


class _Reader:
    def __init__(self) -> None:
        self.f = MeetingFacts()
        self.current = AgendaSection(None, "")  # before any agenda item started
        self.f.agenda.append(self.current)

    def person(self, member_id: Any) -> Attendee:
        mid = _text(member_id) or "?"
        if mid not in self.f.people:
            self.f.people[mid] = Attendee(mid, role="guest")
        return self.f.people[mid]

    def poll(self, poll_id: Any) -> Poll:
        pid = _text(poll_id) or "?"
        if pid not in self.f.polls:
            self.f.polls[pid] = Poll(pid)
            self.current.polls.append(pid)
        return self.f.polls[pid]

    def section_for(self, e: Mapping[str, Any]) -> AgendaSection:
        pos = next((e[k] for k in ("position", "item", "agenda_item") if k in e), None)
        if isinstance(pos, Mapping):
            pos = pos.get("position")
        for s in self.f.agenda:
            if s.position is not None and s.position == pos:
                return s
        s = AgendaSection(pos if isinstance(pos, int) else None, _text(e.get("title")))
        self.f.agenda.append(s)
        return s

    def read(self, e: Mapping[str, Any]) -> None:
        t, at = e.get("type"), _text(e.get("at"))
        f = self.f
        if t == "meeting_opened":
            f.meeting_id = e.get("meeting_id")
            f.title, f.cell, f.place = (_text(e.get(k)) for k in ("title", "cell", "place"))
            f.scheduled_for, f.opened_at = _text(e.get("scheduled_for")) or None, at
            f.sites = [_text(s.get("name")) for s in e.get("sites") or [] if isinstance(s, Mapping)]
            for p in e.get("participants") or []:
                if isinstance(p, Mapping):
                    a = self.person(p.get("member_id"))
                    a.full_name = _text(p.get("full_name"))
                    a.role = _text(p.get("role")) or "member"
            for item in e.get("agenda") or []:
                if isinstance(item, Mapping):
                    pos = item.get("position")
                    f.agenda.append(
                        AgendaSection(pos if isinstance(pos, int) else None, _text(item.get("title")))
                    )
        elif t == "meeting_closed":
            f.closed_at = at
            for p in f.people.values():
                if p._since:
                    p.seconds_present += _seconds_between(p._since, at)
                    p._since = None
        elif t in _JOIN:
            p = self.person(e.get("member_id"))
            if p.joined_at is None:
                p.joined_at = at
                p.attendance = _text(e.get("attendance")) or None
                p.site = _text(e.get("site")) or None
            elif t == "member_checked_in":  # a check-in is authoritative over a join
                p.attendance = _text(e.get("attendance")) or p.attendance
                p.site = _text(e.get("site")) or p.site
            if p._since is None:
                p._since = at
        elif t in _LEAVE:
            p = self.person(e.get("member_id"))
            if p._since:
                p.seconds_present += _seconds_between(p._since, at)
                p._since = None
        elif t == "member_excused":
            self.person(e.get("member_id")).excused = _text(e.get("reason")) or "-"
        elif t in _QUORUM:
            f.quorum.append(e)
        elif t == "agenda_item_started":
            self.current = self.section_for(e)
            self.current.started_at = at
        elif t == "floor_given":
            self.current.speeches.append(Speech(_text(e.get("member_id")), at))
            self.person(e.get("member_id")).speeches += 1
        elif t == "speech_ended":
            secs = e.get("duration_s", e.get("seconds"))
            if isinstance(e.get("duration_ms"), int) and not isinstance(e["duration_ms"], bool):
                secs = e["duration_ms"] / 1000
            mid = _text(e.get("member_id"))
            speech = next(
                (s for s in reversed(self.current.speeches) if s.member_id == mid and s.seconds is None), None
            )
            if isinstance(secs, int | float) and not isinstance(secs, bool):
                value = float(secs)
            else:
                value = _seconds_between(speech.at, at) if speech else 0.0
            if speech is None:
                speech = Speech(mid, at)
                self.current.speeches.append(speech)
                self.person(mid).speeches += 1
            speech.seconds = value
            self.person(mid).speaking_seconds += value
        elif t in _NOTE:
            self.current.notes.append((at, _text(e.get("text"))))
        elif t == "motion_added":
            self.current.motions.append(e)
        elif t == "chair_override":
            self.current.overrides.append(e)
        elif t in _POLL:
            self.read_poll(t, at, e)
        elif t in _RECORDING:
            f.recordings.append(e)
        elif t == "minutes_rendered":
            f.rendered.append(e)
        else:
            f.unknown.append(e)

    def read_poll(self, t: str, at: str, e: Mapping[str, Any]) -> None:
        poll = self.poll(e.get("poll_id"))
        if t == "poll_opened":
            poll.opened_at = at
            cfg = e.get("config")
            poll.config = cfg if isinstance(cfg, Mapping) else {}
            poll.quorate = e.get("quorate") if isinstance(e.get("quorate"), bool) else None
        elif t == "ballot_cast":
            choices = e.get("choices")
            poll.open_votes[_text(e.get("voter_id"))] = list(choices) if isinstance(choices, list) else []
            poll.voters.add(_text(e.get("voter_id")))
        elif t == "voter_marked":
            poll.voters.add(_text(e.get("voter_id")))
        elif t == "hand_count_recorded":
            poll.hand_counts.append(e)
        elif t == "poll_closed":
            poll.closed_at, poll.close_reason = at, _text(e.get("reason")) or None
        elif t == "poll_result":
            tally, outcome = e.get("tally"), e.get("outcome")
            poll.tally = tally if isinstance(tally, Mapping) else None
            poll.outcome = outcome if isinstance(outcome, Mapping) else None
            receipts = e.get("receipts")
            poll.receipts = (
                [r for r in receipts if isinstance(r, Mapping)] if isinstance(receipts, list) else []
            )


def read_facts(entries: Sequence[Mapping[str, Any]]) -> MeetingFacts:
    """Fold parsed entries (log order) into :class:`MeetingFacts`."""
    reader = _Reader()
    for e in entries:
        if isinstance(e, Mapping):
            reader.read(e)
    facts = reader.f
    facts.size = len(entries)
    # drop the "before the first item" section when nothing happened in it
    first = facts.agenda[0]
    if not (first.speeches or first.notes or first.motions or first.polls or first.overrides):
        facts.agenda.pop(0)
    return facts
