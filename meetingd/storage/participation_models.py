"""Schema v5 table of each closed meeting's participation summary (the committee's figures).

Written when the meeting's closing checkpoint, and again when its seal's checkpoint, is
signed (:class:`meetingd.committee.summaries.MeetingSummaries` listens to the journal);
meetings closed before that existed get theirs on first use. Derived only from the signed
minutes: ``size`` and ``root`` name the checkpoint whose entries it was computed from, so
a bundle's same prefix gives the same summary (``meetingd report verify``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class MeetingSummaryRow(Base):
    __tablename__ = "meeting_summaries"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    format: Mapped[str] = mapped_column(String(64))  # recorder.participation.SUMMARY_FORMAT
    size: Mapped[int] = mapped_column(Integer)  # entries covered: the signed checkpoint's size
    root: Mapped[str] = mapped_column(String(64))  # that checkpoint's root hash, base64
    summary: Mapped[str] = mapped_column(Text)  # MeetingSummary.to_dict() as compact JSON
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
