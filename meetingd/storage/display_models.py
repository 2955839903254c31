"""Paired main-room displays (issue 11): a projector signs in with a one-time code the
chair or secretary created, to a read-only view of one meeting. Not a person: never in
the roster, the register or the quorum."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class DisplayPairing(Base):
    __tablename__ = "display_pairings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    # SHA-256 of the one-time pairing code; cleared once it is used
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # SHA-256 of the display's session secret (its cookie), set when it pairs
    secret_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
