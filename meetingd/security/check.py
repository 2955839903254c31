"""The risk self-check: what in this installation makes an attack easier, and the fix.

``meetingd security check`` prints it; administrators see it on the security page. Each
:class:`Finding` names what is wrong, how bad it is and what to do about it.
"""

from __future__ import annotations

import ipaddress
import re
import stat
import tomllib
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..config import Config
from ..demo import DEMO_CELL, DEMO_PASSWORD, OBSERVER, PEOPLE
from ..keystore import KeyCustodyError, default_credentials_file, find_passphrase, server_key_path
from ..passwords import verify_password
from ..storage.models import Cell, Meeting, Member, Participant, SchemaMeta
from ..storage.security_models import SecondFactor

if TYPE_CHECKING:
    from .service import Security

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SEVERITIES = ("high", "medium", "low")
MAX_PASSWORD_CHECKS = 300  # Argon2id checks for the demo password (~20-50 ms each)


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_network(cfg: Config) -> list[Finding]:
    out = []
    if cfg.server.tls == "off" and not _is_loopback(cfg.server.host):
        out.append(
            Finding(
                "tls_off",
                "high",
                f"TLS is off and the server listens on {cfg.server.host}: passwords, "
                "codes and session cookies cross the network in clear",
                "set [server] tls = 'files' (a real certificate) or 'self-signed'",
            )
        )
    if cfg.server.public_url.startswith("http://") and not _is_loopback(
        cfg.server.public_url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0].strip("[]")
    ):
        out.append(
            Finding(
                "public_url_http",
                "high",
                f"public_url {cfg.server.public_url} is plain HTTP",
                "serve HTTPS and set [server] public_url to the https:// address",
            )
        )
    return out


def _mode_finding(path: Path, what: str) -> Finding | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        if mode & 0o007:
            return Finding(
                "dir_open",
                "medium",
                f"{what} {path} is open to other users (mode {stat.filemode(mode)})",
                f"chmod o-rwx '{path}'",
            )
        return None
    if mode & 0o077:
        return Finding(
            "file_readable",
            "high",
            f"{what} {path} can be read by other users (mode {stat.filemode(mode)})",
            f"chmod 600 '{path}'",
        )
    return None


def check_files(cfg: Config) -> list[Finding]:
    data = cfg.data_path
    secret = Path(cfg.auth.secret_key_file) if cfg.auth.secret_key_file else data / "secret.key"
    candidates: list[tuple[Path, str]] = [
        (data, "the data directory"),
        (secret, "the server secret"),
        (server_key_path(cfg), "the minutes signing key"),
        (data / "meetingd.db", "the database"),
        (data / "meetingd.db-wal", "the database log"),
        (data / "tls" / "key.pem", "the TLS private key"),
    ]
    if cfg.server.tls_key:
        candidates.append((Path(cfg.server.tls_key), "the TLS private key"))
    candidates.append((default_credentials_file(cfg), "the minutes key passphrase"))
    if cfg.minutes.key_passphrase_file:
        candidates.append((Path(cfg.minutes.key_passphrase_file), "the minutes key passphrase"))
    if cfg.media.turn_secret_file:
        candidates.append((Path(cfg.media.turn_secret_file), "the TURN secret"))
    return [f for path, what in candidates if (f := _mode_finding(path, what)) is not None]


def check_key_passphrase(cfg: Config) -> list[Finding]:
    """Where the minutes key's passphrase comes from (meetingd/keystore.py), and whether
    a copy of the data directory's surroundings would hold the key and it together."""
    try:
        found = find_passphrase(cfg)
    except KeyCustodyError as exc:
        return [
            Finding(
                "key_passphrase_unusable",
                "high",
                str(exc),
                "fix the passphrase source named above; the server refuses to start until then",
            )
        ]
    if found is None:
        return [
            Finding(
                "no_key_passphrase",
                "high",
                "no passphrase for the minutes signing key is configured: the server will not start",
                f"run 'meetingd keys init', or set {cfg.minutes.key_passphrase_env} or a systemd "
                "credential meetingd-minutes-key",
            )
        ]
    default = default_credentials_file(cfg)
    if found.source == str(default):
        return [
            Finding(
                "passphrase_beside_key",
                "medium",
                f"the minutes key's passphrase is in {default}, next to the data directory "
                f"{cfg.data_path}: a copy of {default.parent.parent} holds the key and its passphrase",
                "move it to a systemd credential (LoadCredential=meetingd-minutes-key:...), the "
                f"environment variable {cfg.minutes.key_passphrase_env}, or [minutes] "
                "key_passphrase_file on another disk, then delete that file",
            )
        ]
    return []


def check_settings(cfg: Config) -> list[Finding]:
    out = []
    wanted = set(cfg.security.second_factor_required_for)
    if not {"admin", "member"} & wanted:
        out.append(
            Finding(
                "second_factor_not_required_admins",
                "high",
                "administrators are not required to have a second factor",
                "add 'admin' to [security] second_factor_required_for",
            )
        )
    if not {"officer", "member"} & wanted:
        out.append(
            Finding(
                "second_factor_not_required_officers",
                "high",
                "meeting officers (chairs, secretaries) are not required to have a second factor",
                "add 'officer' to [security] second_factor_required_for",
            )
        )
    if cfg.security.step_up_minutes > 60:
        out.append(
            Finding(
                "step_up_long",
                "low",
                f"a second factor counts for {cfg.security.step_up_minutes:g} minutes of sensitive actions",
                "lower [security] step_up_minutes (default 10)",
            )
        )
    return out


def check_dependencies(pyproject: Path = PYPROJECT) -> list[Finding]:
    """Installed packages older than pyproject.toml asks for."""
    try:
        deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return []
    out = []
    for spec in deps:
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*(==|>=)\s*([0-9][0-9.]*)", spec)
        if not m:
            continue
        name, op, wanted = m.groups()
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(
                Finding(
                    "dependency_missing",
                    "high",
                    f"{name} is not installed",
                    "pip install -e . (in the server's environment)",
                )
            )
            continue
        if _older(have, wanted) or (op == "==" and _base(have) != _base(wanted)):
            out.append(
                Finding(
                    "dependency_behind",
                    "medium",
                    f"{name} {have} is installed; this meetingd needs {op}{wanted}",
                    f"pip install '{name}{op}{wanted}'",
                )
            )
    return out


def _base(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def _older(have: str, wanted: str) -> bool:
    return _base(have) < _base(wanted)


async def check_database(
    cfg: Config, db: async_sessionmaker[AsyncSession], security: Security | None
) -> list[Finding]:
    try:
        return await _check_database(cfg, db)
    except SQLAlchemyError as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        return [
            Finding(
                "database_unreadable",
                "medium",
                f"the database could not be read ({type(cause).__name__}); accounts were not checked",
                "check [database] url and [server] data_dir; start meetingd once to create the database",
            )
        ]


async def _check_database(cfg: Config, db: async_sessionmaker[AsyncSession]) -> list[Finding]:
    from ..storage.db import SCHEMA_VERSION

    out: list[Finding] = []
    async with db() as s:
        version = await s.scalar(select(SchemaMeta.value).where(SchemaMeta.key == "schema_version"))
        if version is not None and int(version) < SCHEMA_VERSION:
            out.append(
                Finding(
                    "schema_behind",
                    "medium",
                    f"the database schema is version {version}; this meetingd uses {SCHEMA_VERSION}",
                    "back up the data directory, then start meetingd once (it migrates on start)",
                )
            )
            return out  # the tables below may not exist yet
        demo_ids = [p[0] for p in PEOPLE] + [OBSERVER[0]]
        demo = (
            await s.scalars(
                select(Member.member_id).where(Member.member_id.in_(demo_ids), Member.status == "active")
            )
        ).all()
        demo_cell = await s.scalar(select(func.count()).select_from(Cell).where(Cell.name == DEMO_CELL))
        if demo or demo_cell:
            out.append(
                Finding(
                    "demo_accounts",
                    "high",
                    f"demo accounts are present ({', '.join(sorted(demo)[:5])}"
                    f"{'…' if len(demo) > 5 else ''})",
                    "set their status to 'left' (meetingd members import, or the "
                    "members page), or start from a fresh data directory",
                )
            )
        hashes = (
            await s.execute(
                select(Member.member_id, Member.password_hash).where(
                    Member.password_hash.is_not(None), Member.status == "active"
                )
            )
        ).all()
        seen: dict[str, bool] = {}
        weak = []
        for member_id, hashed in hashes[:MAX_PASSWORD_CHECKS]:
            if hashed is None:
                continue
            if hashed not in seen:
                seen[hashed] = verify_password(hashed, DEMO_PASSWORD)
            if seen[hashed]:
                weak.append(member_id)
        if weak:
            out.append(
                Finding(
                    "demo_password",
                    "high",
                    f"{len(weak)} account(s) still use the public demo password "
                    f"({', '.join(sorted(weak)[:5])})",
                    "reset their access (members page → reset access, or meetingd members invite ID)",
                )
            )
        enrolled = set(
            (await s.scalars(select(SecondFactor.member_pk).where(SecondFactor.confirmed.is_(True)))).all()
        )
        admins = (
            await s.execute(
                select(Member.id, Member.member_id).where(
                    Member.is_admin.is_(True), Member.status == "active"
                )
            )
        ).all()
        officers = (
            await s.execute(
                select(Member.id, Member.member_id)
                .join(Participant, Participant.member_pk == Member.id)
                .join(Meeting, Meeting.id == Participant.meeting_id)
                .where(
                    Participant.role.in_(("chair", "secretary")),
                    Meeting.state != "closed",
                    Member.status == "active",
                )
            )
        ).all()
    missing = sorted({mid for pk, mid in [*admins, *officers] if pk not in enrolled})
    if missing:
        out.append(
            Finding(
                "officers_without_second_factor",
                "high",
                f"{len(missing)} administrator(s) or meeting officer(s) have no second "
                f"factor: {', '.join(missing[:8])}{'…' if len(missing) > 8 else ''}",
                "each signs in and sets up an authenticator app on their Security page",
            )
        )
    return out


async def run_checks(
    cfg: Config, db: async_sessionmaker[AsyncSession], security: Security | None = None
) -> list[Finding]:
    findings = [
        *check_network(cfg),
        *check_files(cfg),
        *check_key_passphrase(cfg),
        *check_settings(cfg),
        *check_dependencies(),
        *await check_database(cfg, db, security),
    ]
    return sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
