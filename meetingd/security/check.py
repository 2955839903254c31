"""The risk self-check: what in this installation makes an attack easier, and the fix.

``meetingd security check`` prints it; administrators see it on the security page. Each
:class:`Finding` names what is wrong (a stable ``id`` of :data:`KINDS`), how bad it is, its
facts (``params``: paths, names, numbers, never a sentence) and, in English for logs and
the command line, what is wrong and what to do. The web page says the same in the
reader's language from its catalogs (``security.finding.<id>``,
``security.finding_fix.<id>``), filled from ``params``; tests/unit/test_security_findings.py
fails when a kind lacks either sentence in a catalog.
"""

from __future__ import annotations

import ipaddress
import re
import stat
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..config import Config
from ..demo import DEMO_CELL, DEMO_PASSWORD, OBSERVER, PEOPLE
from ..keystore import (
    CREDENTIAL_NAME,
    KeyCustodyError,
    default_credentials_file,
    find_passphrase,
    server_key_path,
)
from ..passwords import verify_password
from ..storage.models import Cell, Meeting, Member, Participant, SchemaMeta
from ..storage.security_models import SecondFactor

if TYPE_CHECKING:
    from .service import Security

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
SEVERITIES = ("high", "medium", "low")
MAX_PASSWORD_CHECKS = 300  # Argon2id checks for the demo password (~20-50 ms each)

Param = str | int | float


@dataclass(frozen=True)
class Kind:
    """One kind of finding: its severity and its English sentences, templates over its
    params (``{what}`` is the English name of a file of :data:`FILES`)."""

    severity: str
    message: str
    fix: str


KINDS: dict[str, Kind] = {
    "tls_off": Kind(
        "high",
        "TLS is off and the server listens on {host}: passwords, codes and session cookies cross "
        "the network in clear",
        "set [server] tls = 'files' (a real certificate) or 'self-signed'",
    ),
    "public_url_http": Kind(
        "high",
        "public_url {url} is plain HTTP",
        "serve HTTPS and set [server] public_url to the https:// address",
    ),
    "dir_open": Kind("medium", "{what} {path} is open to other users (mode {mode})", "chmod o-rwx '{path}'"),
    "file_readable": Kind(
        "high", "{what} {path} can be read by other users (mode {mode})", "chmod 600 '{path}'"
    ),
    "passphrase_file_readable": Kind(
        "high",
        "the minutes key's passphrase file {path} can be read by other users (mode {mode}): "
        "the server refuses to start",
        "chmod 600 '{path}'",
    ),
    "passphrase_file_in_data_dir": Kind(
        "high",
        "the minutes key's passphrase file {path} is inside the data directory {data_dir}: "
        "the server refuses to start",
        "move it outside the data directory and set [minutes] key_passphrase_file to its new place",
    ),
    "passphrase_file_missing": Kind(
        "high",
        "[minutes] key_passphrase_file {path} does not exist: the server refuses to start",
        "create that file, or correct [minutes] key_passphrase_file",
    ),
    "passphrase_too_short": Kind(
        "high",
        "the minutes key's passphrase from {source} is shorter than {min} characters: the server "
        "refuses to start",
        "give a passphrase of at least {min} characters",
    ),
    "no_key_passphrase": Kind(
        "high",
        "no passphrase for the minutes signing key is configured: the server will not start",
        "run 'meetingd keys init', or set {env} or a systemd credential {credential}",
    ),
    "passphrase_beside_key": Kind(
        "medium",
        "the minutes key's passphrase is in {path}, next to the data directory {data_dir}: "
        "a copy of {folder} holds the key and its passphrase",
        "move it to a systemd credential (LoadCredential={credential}:...), the environment variable "
        "{env}, or [minutes] key_passphrase_file on another disk, then delete that file",
    ),
    "second_factor_not_required_admins": Kind(
        "high",
        "administrators are not required to have a second factor",
        "add 'admin' to [security] second_factor_required_for",
    ),
    "second_factor_not_required_officers": Kind(
        "high",
        "meeting officers (chairs, secretaries) are not required to have a second factor",
        "add 'officer' to [security] second_factor_required_for",
    ),
    "step_up_long": Kind(
        "low",
        "a second factor counts for {minutes} minutes of sensitive actions",
        "lower [security] step_up_minutes (default 10)",
    ),
    "dependency_missing": Kind(
        "high", "{name} is not installed", "pip install -e . (in the server's environment)"
    ),
    "dependency_behind": Kind(
        "medium", "{name} {have} is installed; this meetingd needs {wanted}", "pip install '{name}{wanted}'"
    ),
    "database_unreadable": Kind(
        "medium",
        "the database could not be read ({error}); accounts were not checked",
        "check [database] url and [server] data_dir; start meetingd once to create the database",
    ),
    "schema_behind": Kind(
        "medium",
        "the database schema is version {version}; this meetingd uses {current}",
        "back up the data directory, then start meetingd once (it migrates on start)",
    ),
    "demo_accounts": Kind(
        "high",
        "demo accounts are present ({members})",
        "set their status to 'left' (meetingd members import, or the members page), or start from "
        "a fresh data directory",
    ),
    "demo_password": Kind(
        "high",
        "{count} account(s) still use the public demo password ({members})",
        "reset their access (members page → reset access, or meetingd members invite ID)",
    ),
    "officers_without_second_factor": Kind(
        "high",
        "{count} administrator(s) or meeting officer(s) have no second factor: {members}",
        "each signs in and sets up an authenticator app on their Security page",
    ),
}

# the files the self-check looks at (the ``what`` of dir_open / file_readable)
FILES: dict[str, str] = {
    "data_dir": "the data directory",
    "server_secret": "the server secret",
    "minutes_key": "the minutes signing key",
    "database": "the database",
    "database_log": "the database log",
    "tls_key": "the TLS private key",
    "passphrase_file": "the minutes key passphrase",
    "turn_secret": "the TURN secret",
}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    fix: str
    params: dict[str, Param] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "params": dict(self.params),
            "message": self.message,
            "fix": self.fix,
        }


def finding(kind_id: str, **params: Param) -> Finding:
    """The finding of kind ``kind_id`` with these facts, its English sentences filled in."""
    kind = KINDS[kind_id]
    english = dict(params)
    if "what" in params:
        english["what"] = FILES[str(params["what"])]
    return Finding(kind_id, kind.severity, kind.message.format(**english), kind.fix.format(**english), params)


def _listed(ids: list[str], most: int) -> str:
    return ", ".join(ids[:most]) + ("…" if len(ids) > most else "")


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
        out.append(finding("tls_off", host=cfg.server.host))
    if cfg.server.public_url.startswith("http://") and not _is_loopback(
        cfg.server.public_url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0].strip("[]")
    ):
        out.append(finding("public_url_http", url=cfg.server.public_url))
    return out


def _mode_finding(path: Path, what: str) -> Finding | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    facts: dict[str, Param] = {"what": what, "path": str(path), "mode": stat.filemode(mode)}
    if stat.S_ISDIR(mode):
        return finding("dir_open", **facts) if mode & 0o007 else None
    return finding("file_readable", **facts) if mode & 0o077 else None


def check_files(cfg: Config) -> list[Finding]:
    data = cfg.data_path
    secret = Path(cfg.auth.secret_key_file) if cfg.auth.secret_key_file else data / "secret.key"
    candidates: list[tuple[Path, str]] = [
        (data, "data_dir"),
        (secret, "server_secret"),
        (server_key_path(cfg), "minutes_key"),
        (data / "meetingd.db", "database"),
        (data / "meetingd.db-wal", "database_log"),
        (data / "tls" / "key.pem", "tls_key"),
    ]
    if cfg.server.tls_key:
        candidates.append((Path(cfg.server.tls_key), "tls_key"))
    candidates.append((default_credentials_file(cfg), "passphrase_file"))
    if cfg.minutes.key_passphrase_file:
        candidates.append((Path(cfg.minutes.key_passphrase_file), "passphrase_file"))
    if cfg.media.turn_secret_file:
        candidates.append((Path(cfg.media.turn_secret_file), "turn_secret"))
    return [f for path, what in candidates if (f := _mode_finding(path, what)) is not None]


def check_key_passphrase(cfg: Config) -> list[Finding]:
    """Where the minutes key's passphrase comes from (meetingd/keystore.py), and whether
    a copy of the data directory's surroundings would hold the key and it together."""
    try:
        found = find_passphrase(cfg)
    except KeyCustodyError as exc:
        # find_passphrase's reasons: file_readable, file_in_data_dir, file_missing, too_short
        kind = {"too_short": "passphrase_too_short"}.get(exc.reason, f"passphrase_{exc.reason}")
        return [finding(kind, **exc.params)]
    env = cfg.minutes.key_passphrase_env
    if found is None:
        return [finding("no_key_passphrase", env=env, credential=CREDENTIAL_NAME)]
    default = default_credentials_file(cfg)
    if found.source == str(default):
        return [
            finding(
                "passphrase_beside_key",
                path=str(default),
                data_dir=str(cfg.data_path),
                folder=str(default.parent.parent),
                env=env,
                credential=CREDENTIAL_NAME,
            )
        ]
    return []


def check_settings(cfg: Config) -> list[Finding]:
    out = []
    wanted = set(cfg.security.second_factor_required_for)
    if not {"admin", "member"} & wanted:
        out.append(finding("second_factor_not_required_admins"))
    if not {"officer", "member"} & wanted:
        out.append(finding("second_factor_not_required_officers"))
    if cfg.security.step_up_minutes > 60:
        minutes = cfg.security.step_up_minutes
        out.append(finding("step_up_long", minutes=int(minutes) if minutes.is_integer() else minutes))
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
            out.append(finding("dependency_missing", name=name))
            continue
        if _older(have, wanted) or (op == "==" and _base(have) != _base(wanted)):
            out.append(finding("dependency_behind", name=name, have=have, wanted=f"{op}{wanted}"))
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
        return [finding("database_unreadable", error=type(cause).__name__)]


async def _check_database(cfg: Config, db: async_sessionmaker[AsyncSession]) -> list[Finding]:
    from ..storage.db import SCHEMA_VERSION

    out: list[Finding] = []
    async with db() as s:
        version = await s.scalar(select(SchemaMeta.value).where(SchemaMeta.key == "schema_version"))
        if version is not None and int(version) < SCHEMA_VERSION:
            out.append(finding("schema_behind", version=int(version), current=SCHEMA_VERSION))
            return out  # the tables below may not exist yet
        demo_ids = [p[0] for p in PEOPLE] + [OBSERVER[0]]
        demo = (
            await s.scalars(
                select(Member.member_id).where(Member.member_id.in_(demo_ids), Member.status == "active")
            )
        ).all()
        demo_cell = await s.scalar(select(func.count()).select_from(Cell).where(Cell.name == DEMO_CELL))
        if demo or demo_cell:
            out.append(finding("demo_accounts", count=len(demo), members=_listed(sorted(demo), 5)))
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
            out.append(finding("demo_password", count=len(weak), members=_listed(sorted(weak), 5)))
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
        out.append(finding("officers_without_second_factor", count=len(missing), members=_listed(missing, 8)))
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
