"""Schema v5 tables of the organisation tree, the organisation log and cached committee reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class CommitteeRow(Base):
    """A committee; ``parent_id`` is the committee above it (none at the top)."""

    __tablename__ = "committees"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id"), nullable=True)


class CellCommittee(Base):
    """The committee a cell sits under (a cell has at most one)."""

    __tablename__ = "cell_committees"
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"), primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)


class CommitteeOfficer(Base):
    __tablename__ = "committee_officers"
    __table_args__ = (UniqueConstraint("committee_id", "member_pk"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))


class CellOfficer(Base):
    __tablename__ = "cell_officers"
    __table_args__ = (UniqueConstraint("cell_id", "member_pk"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cells.id"), index=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))


class OrgLogEntry(Base):
    """One canonical-JSON entry of the organisation log; ``seq`` is its leaf index."""

    __tablename__ = "org_log_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    canonical: Mapped[str] = mapped_column(Text)


class OrgLogCheckpoint(Base):
    __tablename__ = "org_log_checkpoints"
    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CommitteeReportRow(Base):
    """A committee's computed figures for one period, with the SHA-256 of everything they
    were computed from (cells, scheduled meetings, every counted log's latest checkpoint).
    A cache: used only while that fingerprint still matches storage."""

    __tablename__ = "committee_reports"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # committee:from:to:absent_run
    fingerprint: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
