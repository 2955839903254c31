"""Tables of the minutes beyond the log itself: officers' cosigning keys, sealed documents.

(schema v4; owned by the minutes work — see issue 5)
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, ForeignKey, Integer, String, Text, inspect, update
from sqlalchemy.orm import Mapped, mapped_column

from meeting.clock import utc_now

from .models import Base, UTCDateTime

logger = logging.getLogger(__name__)


class OfficerKey(Base):
    """The public half of a member's Ed25519 cosigning key; the private key never reaches
    the server (made in the officer's browser, or a ``meetingd cosign`` key file).

    At most one active key per member (``retired_at`` is NULL); retired keys are kept
    so their public keys stay listed and old cosignatures stay recognised.
    ``origin``: "browser" | "file" (enrolled by the officer), or "server" — a key the
    first versions generated and held sealed on the server, retired with its private
    half deleted by :func:`retire_server_held_officer_keys` (its officer must re-enrol).
    """

    __tablename__ = "officer_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    origin: Mapped[str] = mapped_column(String(16))
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


def retire_server_held_officer_keys(conn: Connection) -> None:
    """v5 step: officers' private keys leave the server.

    The first versions generated each officer's cosigning key on the server and kept it
    sealed with the officer's passphrase (column ``key_file``): whoever held the disk and
    saw one cosigning could re-cosign a forged record. Every such key is retired (its
    public key stays, so cosignatures already made still verify and show), its sealed
    private key is overwritten and the column dropped (``secure_delete`` on, so freed
    pages are zeroed); ``origin = 'server'`` marks them, and the minutes page asks those
    officers to enrol a key made on their own device.
    """
    columns = {c["name"] for c in inspect(conn).get_columns("officer_keys")}
    if "origin" not in columns:
        conn.exec_driver_sql(
            "ALTER TABLE officer_keys ADD COLUMN origin VARCHAR(16) NOT NULL DEFAULT 'server'"
        )
    if "key_file" not in columns:
        return
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    retired = conn.execute(
        update(OfficerKey).where(OfficerKey.retired_at.is_(None)).values(retired_at=utc_now())
    ).rowcount
    conn.exec_driver_sql("UPDATE officer_keys SET key_file = ''")
    conn.exec_driver_sql("ALTER TABLE officer_keys DROP COLUMN key_file")
    logger.warning(
        "retired %s server-held officer cosigning key(s) and deleted every sealed officer private "
        "key: those officers enrol a key made on their own device",
        retired,
    )
