"""Tables of the encrypted secret ballots (docs/e2e-ballots.md).

Nothing here holds a choice: trustees' public shares, each secret poll's context
(public key and limits), the ciphertexts with their proofs, and the trustees' partial
decryptions. Who voted stays in ``poll_voters`` (no time, no ballot key).

``e2e_ballots`` is keyed by the ballot key (a SHA-256 value), ``WITHOUT ROWID``, with no
time and no voter.
"""

from __future__ import annotations

import json

from sqlalchemy import Boolean, Connection, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

_NO_ROWID = {"sqlite_with_rowid": False}


class TrusteeKeyRow(Base):
    """A trustee's public key share for a meeting, with its proof of knowledge (JSON)."""

    __tablename__ = "e2e_trustee_keys"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    trustee_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(Text)


class E2EPollRow(Base):
    """A secret poll's context (fixed at open) and, from close, its sums and counts."""

    __tablename__ = "e2e_polls"
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), primary_key=True)
    context: Mapped[str] = mapped_column(Text)
    trustees: Mapped[str] = mapped_column(Text)
    member_counts: Mapped[str | None] = mapped_column(Text, nullable=True)


class E2EBallotRow(Base):
    __tablename__ = "e2e_ballots"
    __table_args__ = (UniqueConstraint("poll_id", "tracker"), _NO_ROWID)
    ballot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), index=True)
    tracker: Mapped[str] = mapped_column(String(64))
    ballot: Mapped[str] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)


class E2EDecryptionRow(Base):
    __tablename__ = "e2e_decryptions"
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), primary_key=True)
    trustee_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    decryption: Mapped[str] = mapped_column(Text)


class E2EKeyStatementRow(Base):
    """An officer-trustee's signed statement of the meeting's poll key (docs/e2e-ballots.md §3d)."""

    __tablename__ = "e2e_key_statements"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    trustee_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))
    verifier_key: Mapped[str] = mapped_column(Text)


def retire_plaintext_secret_ballots(conn: Connection) -> None:
    """v5 step: the first version's plaintext secret ballots go.

    A closed secret poll keeps its published result (``polls.result``, and the
    minutes, which already hold every receipt with its choices). A secret poll still
    open at the upgrade cannot go on (its plaintext ballots cannot become encrypted
    ones): it is closed as void. Every ``secret_ballots`` row is deleted with
    ``secure_delete`` on, so the freed pages are overwritten, not just unlinked.
    """
    conn.exec_driver_sql("PRAGMA secure_delete = ON")
    polls = conn.exec_driver_sql("SELECT id, config, state FROM polls").fetchall()
    for poll_id, config, state in polls:
        if json.loads(config).get("kind") != "secret" or state != "open":
            continue
        void = {
            "poll_id": poll_id,
            "void": True,
            "reason": "a plaintext secret poll open at the upgrade to encrypted ballots",
        }
        conn.exec_driver_sql(
            "UPDATE polls SET state = 'closed', closed_at = opened_at, close_reason = 'void', "
            "result = ? WHERE id = ?",
            (json.dumps(void), poll_id),
        )
        conn.exec_driver_sql("DELETE FROM poll_voters WHERE poll_id = ?", (poll_id,))
    conn.exec_driver_sql("DELETE FROM secret_ballots")


class E2EDkgStepRow(Base):
    """One accepted step of the trustees' key generation (docs/e2e-ballots.md §3b), in
    order: ``named`` (the round's trustees, ``trustee_id`` empty), then ``key``,
    ``dealing``, ``confirmation`` and ``complaint`` (all public data, JSON)."""

    __tablename__ = "e2e_dkg_steps"
    __table_args__ = (UniqueConstraint("meeting_id", "round", "step", "trustee_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))
    trustee_id: Mapped[str] = mapped_column(String(128))
    data: Mapped[str] = mapped_column(Text)


class E2EPollThresholdRow(Base):
    """A secret poll opened under threshold trustees: t and each trustee's index."""

    __tablename__ = "e2e_poll_thresholds"
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id"), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    indices: Mapped[str] = mapped_column(Text)
    round: Mapped[int] = mapped_column(Integer)
    """The key generation round whose key the poll uses."""
