"""The chair's speaking-time limit per meeting (issue 11): kept over a restart."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class SpeakingLimit(Base):
    __tablename__ = "speaking_limits"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    limit_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
