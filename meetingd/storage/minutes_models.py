"""Tables of the minutes beyond the log itself: officers' cosigning keys, sealed documents.

(schema v4; owned by the minutes work — see issue 5)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class OfficerKey(Base):
    """A member's Ed25519 cosigning key, sealed with their passphrase (recorder.keys).

    At most one active key per member (``retired_at`` is NULL); retired keys are kept
    so their public keys stay listed.
    """

    __tablename__ = "officer_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    key_file: Mapped[str] = mapped_column(Text)  # recorder.keys JSON document
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MinutesDocument(Base):
    """The sealed rendered minutes of a meeting; its sha256 is in a minutes_rendered entry."""

    __tablename__ = "minutes_documents"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lang: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    html: Mapped[str] = mapped_column(Text)
