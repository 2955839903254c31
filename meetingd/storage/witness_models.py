"""Tables of witnessing (issue 9): a witness's view of the logs it cosigns, and a cell
server's durable queue of checkpoints to push to its witnesses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class WitnessedLog(Base):
    """Witness side: the latest checkpoint cosigned for one log origin."""

    __tablename__ = "witnessed_logs"
    origin: Mapped[str] = mapped_column(String(400), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))  # base64
    note: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WitnessPush(Base):
    """Cell side: per (witness, meeting) what the witness has cosigned and what is pending.

    Survives restarts: the pusher resumes every row with ``pending_size > cosigned_size``.
    ``refused`` holds the witness's refusal (a possible fork): nothing is retried then.
    """

    __tablename__ = "witness_pushes"
    witness: Mapped[str] = mapped_column(String(400), primary_key=True)  # the witness key name
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    cosigned_size: Mapped[int] = mapped_column(Integer, default=0)
    pending_size: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    refused: Mapped[str | None] = mapped_column(Text, nullable=True)
