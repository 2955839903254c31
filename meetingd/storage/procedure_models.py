"""Tables of the meeting procedure: attendance register, agenda, speakers, polls, ballots.

(schema v4; owned by the meeting-procedure work — see issue 4)

Secret ballots are stored so that nothing links a voter to a choice:

* ``poll_voters`` says *who* has voted (poll, member): primary key (poll_id, member_pk),
  ``WITHOUT ROWID``, no timestamp — its order is member order, not time.
* ``secret_ballots`` holds *what* was cast (ballot key, receipt, choices): primary key
  the ballot key (a SHA-256 value), ``WITHOUT ROWID``, no timestamp, no voter.
* ``superseded_ballots`` lists replaced ballot keys (again a hash, no voter, no time).

One member, one vote is enforced by the database: ``poll_voters``' primary key, and
``open_ballots``' unique (poll_id, member_pk).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime

_NO_ROWID = {"sqlite_with_rowid": False}


class ProcedureSettings(Base):
    """Per meeting: the quorum rule (JSON, null = default) and the current agenda item."""

    __tablename__ = "procedure_settings"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    quorum_rule: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_item: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CheckInRow(Base):
    """One in-person presence: checked in (main room or sub-site) .. checked out."""

    __tablename__ = "attendance_checkins"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    attendance: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    by_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ExcuseRow(Base):
    __tablename__ = "attendance_excuses"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    by_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class MotionRow(Base):
    __tablename__ = "motions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    proposer_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    added_by_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SpeechRow(Base):
    """One speech (a member's, or a sub-site's through its operator)."""

    __tablename__ = "speeches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    member_pk: Mapped[int | None] = mapped_column(ForeignKey("members.id"), nullable=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PollRow(Base):
    __tablename__ = "polls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    motion_id: Mapped[int | None] = mapped_column(ForeignKey("motions.id"), nullable=True)
    config: Mapped[str] = mapped_column(Text)  # the chair's payload, JSON
    state: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    quorate: Mapped[bool | None] = mapped_column(nullable=True)
    quorum_override: Mapped[bool] = mapped_column(default=False)
    close_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # poll_result, JSON


class PollVoter(Base):
    """Member X has voted in poll P. No time, no ballot key; one row per member."""

    __tablename__ = "poll_voters"
    __table_args__ = _NO_ROWID
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)


class OpenBallot(Base):
    """The current ballot of a voter in an open (named) poll."""

    __tablename__ = "open_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "member_pk"), _NO_ROWID)
    ballot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), index=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    receipt: Mapped[str] = mapped_column(String(32))
    choices: Mapped[str] = mapped_column(String(4000))  # JSON list of option indices
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecretBallot(Base):
    """A secret ballot's content. No voter, no time, no rowid: keyed by a hash."""

    __tablename__ = "secret_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "receipt"), _NO_ROWID)
    ballot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), index=True)
    receipt: Mapped[str] = mapped_column(String(32))
    choices: Mapped[str] = mapped_column(String(4000))


class SupersededBallot(Base):
    """A ballot key replaced by a later ballot (a late retry must not undo a change)."""

    __tablename__ = "superseded_ballots"
    __table_args__ = _NO_ROWID
    ballot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), index=True)


class HandCountRow(Base):
    """The latest hand count of one place (``site`` = '' for the main room)."""

    __tablename__ = "hand_counts"
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), primary_key=True)
    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    entered_by: Mapped[str] = mapped_column(String(32))
    counts: Mapped[str] = mapped_column(String(4000))
    hand_eligible: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
