"""Tables of strict identity and the security log (schema v5, new tables only).

``security_events`` is append-only: on SQLite, triggers refuse UPDATE and DELETE, so a
bug (or an intruder with only the application's SQL) cannot quietly rewrite it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Boolean, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class SecondFactor(Base):
    """A member's authenticator app (TOTP) or passkey (WebAuthn credential)."""

    __tablename__ = "second_factors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "totp" | "passkey"
    label: Mapped[str] = mapped_column(String(100), default="")
    # TOTP: the secret, encrypted with a key derived from the server secret.
    secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=-1)  # last accepted time step
    # Passkey: credential id (base64url), COSE public key (base64url), signature counter.
    credential_id: Mapped[str | None] = mapped_column(String(1400), nullable=True, unique=True)
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RecoveryCode(Base):
    """A one-time recovery code: only its keyed hash is stored."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SessionDetail(Base):
    """What a person sees of one of their sessions: when, from where, which factor."""

    __tablename__ = "session_details"
    token_hash: Mapped[str] = mapped_column(
        ForeignKey("web_sessions.token_hash", ondelete="CASCADE"), primary_key=True
    )
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    factor: Mapped[str] = mapped_column(String(16), default="password")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SignInChallenge(Base):
    """The password was right; the second step (a code) is still owed."""

    __tablename__ = "sign_in_challenges"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    address: Mapped[str] = mapped_column(String(64), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SocketTokenSession(Base):
    """Which browser session minted a Socket.IO connect token (for step-up on sockets)."""

    __tablename__ = "socket_token_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecurityEvent(Base):
    """One entry of the append-only security log."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    member_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    meeting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[str] = mapped_column(Text, default="{}")


class SecurityAlert(Base):
    """An alert raised by a rule, with its handling state and who handled it."""

    __tablename__ = "security_alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(48), index=True)
    key: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="new")  # new|acknowledged|resolved
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="{}")
    member_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    meeting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


for _op in ("UPDATE", "DELETE"):
    event.listen(
        SecurityEvent.__table__,
        "after_create",
        DDL(
            f"CREATE TRIGGER security_events_no_{_op.lower()} BEFORE {_op} ON security_events "
            "BEGIN SELECT RAISE(ABORT, 'the security log is append-only'); END"  # type: ignore[no-untyped-call]
        ).execute_if(dialect="sqlite"),
    )
