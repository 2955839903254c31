"""Configuration: one TOML file, sections mapped to frozen dataclasses.

Every setting is declared once, in the dataclasses below, with its default and a
help text (``field(metadata={"help": ...})``). ``config/meetingd.example.toml`` documents
each key; ``tests/unit/test_config.py`` fails when a key is missing there.

Precedence: defaults < TOML file < environment (``MEETINGD_<SECTION>_<KEY>``).
An unknown section or key, or a value of the wrong type, is a :class:`ConfigError`
naming the source (file or variable), the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration problem, with enough context to fix it."""


def _h(text: str, default: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class ServerSettings:
    host: str = _h("Address to listen on. Plain HTTP is only allowed on loopback.", "127.0.0.1")
    port: int = _h("TCP port (0 picks a free one and prints it).", 8443)
    data_dir: str = _h("Directory for the database, keys, certificates and recordings.", "data")
    public_url: str = _h(
        "Origin users type in the browser, e.g. https://meet.example.org:8443. "
        "Empty: derived from host and port.",
        "",
    )
    allowed_origins: list[str] = _h(
        "Extra browser origins allowed to call the API and open Socket.IO connections.", []
    )
    tls: str = _h(
        "'off' (plain HTTP, loopback only), 'self-signed' (generate a certificate for LAN "
        "use in data_dir) or 'files' (use tls_cert and tls_key).",
        "off",
    )
    tls_cert: str = _h("PEM certificate chain, when tls = 'files'.", "")
    tls_key: str = _h("PEM private key, when tls = 'files'.", "")
    tls_hostnames: list[str] = _h(
        "Extra DNS names / IP addresses to put in a generated self-signed certificate.", []
    )
    reconnect_grace_seconds: float = _h(
        "How long a dropped participant is shown as 'reconnecting' before 'left'.", 20.0
    )
    shutdown_timeout_seconds: float = _h(
        "On SIGTERM, how long to wait for in-flight requests before closing.", 10.0
    )

    metrics_from: list[str] = _h(
        "Networks allowed to read GET /metrics (Prometheus), e.g. ['10.0.0.0/8']. Default: loopback only.",
        ["127.0.0.0/8", "::1/128"],
    )


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = _h(
        "SQLAlchemy async URL. Empty: SQLite file meetingd.db in data_dir. "
        "PostgreSQL: postgresql+asyncpg://user@host/db",
        "",
    )
    echo: bool = _h("Log every SQL statement (debugging only).", False)


@dataclass(frozen=True)
class AuthSettings:
    session_hours: float = _h("Lifetime of a browser session.", 12.0)
    socket_token_seconds: int = _h("Lifetime of the single-use Socket.IO connect token.", 60)
    invitation_hours: float = _h("Lifetime of an invitation (first access) link.", 72.0)
    login_attempts_per_account: int = _h("Failed sign-ins allowed per account per 15 min.", 5)
    login_attempts_per_address: int = _h("Sign-in attempts allowed per client address per 15 min.", 30)
    secret_key_file: str = _h(
        "File holding the server secret that signs invitations. Empty: "
        "data_dir/secret.key, created on first start with mode 0600.",
        "",
    )


@dataclass(frozen=True)
class LimitsSettings:
    max_payload_bytes: int = _h("Largest HTTP body or Socket.IO event accepted.", 65536)
    events_per_second: float = _h("Sustained Socket.IO events allowed per connection.", 20.0)
    event_burst: int = _h("Burst of Socket.IO events allowed per connection.", 40)
    chat_history: int = _h("How many chat messages a joining client receives.", 200)


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _h("Log level: debug, info, warning, error.", "info")
    format: str = _h("'json' (one object per line) or 'text'.", "json")


@dataclass(frozen=True)
class MediaSettings:
    announce_addresses: list[str] = _h(
        "Addresses the SFU announces as ICE host candidates (public address behind NAT; "
        "127.0.0.1 for loopback tests). Empty: the interfaces' addresses.",
        [],
    )
    ice_servers: list[str] = _h(
        "STUN/TURN URLs handed to clients and used by the server, e.g. "
        "'turn:turn.example.org:3478'. Empty: none (never aiortc's default).",
        [],
    )
    turn_secret_file: str = _h("coturn 'static-auth-secret' file for time-limited TURN credentials.", "")
    udp_port_min: int = _h("Lowest UDP port for media (0 = any).", 0)
    udp_port_max: int = _h("Highest UDP port for media (0 = any).", 0)
    turn_credential_seconds: int = _h(
        "Lifetime of the TURN credentials handed to a client at media_open (seconds).", 86400
    )
    audio_red: bool = _h(
        "Negotiate RED (RFC 2198: each audio packet also carries the previous one) with "
        "browsers that offer it; subscribers without RED get plain Opus.",
        True,
    )
    opus_fec: bool = _h("Ask publishers for Opus in-band FEC (useinbandfec=1).", True)
    opus_dtx: bool = _h(
        "Let publishers send almost nothing in silence (Opus DTX, usedtx=1); off keeps "
        "speech continuous on lossy links.",
        False,
    )
    video_playout_delay_max_ms: int = _h(
        "On a lossy link, hold each subscriber's video back by up to this much (ms) so that "
        "a lost packet's retransmission arrives before its frame is due (playout-delay "
        "header extension, raised only while packets are being lost, from the measured "
        "round trips). 0: never.",
        800,
    )
    video_nack_horizon_ms: int = _h(
        "A publisher's lost video packet is asked for again while its answer can arrive "
        "within this many ms of the loss; after that it is given up and a keyframe asked for. "
        "Raise it on links with round trips above ~500 ms.",
        1600,
    )
    video_nack_repeat: bool = _h(
        "Send each request for a publisher's lost video packet twice, a quarter of a round "
        "trip apart, so that a lost request does not hold the picture back a whole round "
        "trip more (the browser resends a packet at most once per round trip).",
        True,
    )
    weak_link_audio_only: bool = _h(
        "A member whose link loses 20 % or more of the media sent to it for 4 s gets sound "
        "only, told why, until the link has "
        "stayed good for 10 s (longer each time it fails again); the member can keep video.",
        True,
    )
    transport_cc: bool = _h(
        "Negotiate transport-wide congestion control (transport-cc) both ways: send each "
        "publisher transport feedback so its browser estimates its uplink from loss and "
        "delay, and estimate each subscriber's downlink from its feedback (sound only under "
        "60 kbit/s, the shared low rendition under the full stream's rate).",
        True,
    )
    simulcast: bool = _h(
        "Accept simulcast from publishers whose browser offers it (up to 3 layers, RFC 8853 "
        "rids): each subscriber gets the best layer its estimate and receive profile allow, "
        "switched at keyframes. Off: one stream per publisher, the shared low rendition for "
        "weak links.",
        True,
    )


@dataclass(frozen=True)
class MinutesSettings:
    origin_prefix: str = _h(
        "Prefix of each meeting log's C2SP origin (origin = prefix/meeting id). Pick a "
        "name unique to this deployment, e.g. 'minutes.example.org/meetingd'. Never change "
        "it once meetings are recorded.",
        "meetingd.local/minutes",
    )
    checkpoint_seconds: float = _h(
        "How often a signed checkpoint is made while entries arrive (and always at close).", 5.0
    )
    key_passphrase_file: str = _h(
        "File holding the passphrase that encrypts the server's minutes signing key at rest; "
        "it must be outside data_dir and not readable by other users. Empty: the "
        "environment variable key_passphrase_env, else a systemd credential "
        "meetingd-minutes-key, else <data_dir>.credentials/minutes-key (meetingd keys init).",
        "",
    )
    key_passphrase_env: str = _h(
        "Environment variable holding the minutes key's passphrase (checked first).",
        "MEETINGD_KEY_PASSPHRASE",
    )
    witnesses: list[str] = _h(
        "Witnesses that cosign this server's minutes logs (C2SP tlog-witness), each "
        "'<submission URL prefix> <witness verifier key>', e.g. 'https://committee.example"
        "/witness committee.example/witness+1a2b3c4d+BA...'. Checkpoints are pushed during "
        "the meeting, at each poll close and at the seal, queued while a witness is "
        "unreachable.",
        [],
    )
    witness_retry_max_seconds: float = _h(
        "Longest wait between two attempts to reach an unreachable witness (backoff doubles "
        "from 1 s up to this).",
        300.0,
    )


@dataclass(frozen=True)
class ClusterSettings:
    redis_url: str = _h(
        "Redis URL carrying Socket.IO broadcasts between meetingd nodes, e.g. "
        "'redis://127.0.0.1:6379/0'. Empty: a single node (no Redis). Needs a PostgreSQL "
        "database.url shared by all nodes.",
        "",
    )
    node_id: str = _h("This node's name in the cluster (leases, health, metrics). Empty: the host name.", "")
    forward_timeout_seconds: float = _h(
        "How long a node waits for the owner of a meeting to answer a forwarded command before "
        "the client gets 'owner_timeout' (and retries).",
        5.0,
    )
    lease_check_seconds: float = _h(
        "How often a node checks the PostgreSQL connection holding its meetings' owner "
        "leases; a node that loses it stops serving those meetings as owner.",
        1.0,
    )


@dataclass(frozen=True)
class RecordingSettings:
    dir: str = _h(
        "Directory for meeting recordings (one folder per meeting). Empty: data_dir/recordings.",
        "",
    )
    retention_days: int = _h(
        "Delete recording files older than this many days (0 = keep them forever). The "
        "minutes keep each file's SHA-256 either way.",
        0,
    )
    queue_frames: int = _h(
        "Frames the recorder may hold for its writer thread before dropping (video then "
        "resumes at the next keyframe).",
        1000,
    )


@dataclass(frozen=True)
class SecuritySettings:
    second_factor_required_for: list[str] = _h(
        "Who must have a second factor (TOTP app or passkey) before sensitive actions: any of "
        "'admin', 'officer' (a meeting's chair or secretary), 'member' (everyone).",
        ["admin", "officer"],
    )
    step_up_minutes: float = _h(
        "Opening/closing polls, overriding quorum, cosigning and admin changes to members need "
        "a second factor used in this session within the last N minutes.",
        10.0,
    )
    totp_issuer: str = _h("Name shown in authenticator apps next to the member id.", "meetingd")
    second_factor_attempts: int = _h("Wrong second-factor codes allowed per account per 15 minutes.", 5)
    sign_in_challenge_seconds: int = _h(
        "How long the second step of a sign-in (the code) may follow the password.", 300
    )
    enrolment_minutes: float = _h(
        "How long an authenticator enrolment started with a fresh password check stays valid.",
        10.0,
    )
    recovery_codes: int = _h("How many one-time recovery codes an enrolment issues.", 10)
    rp_id: str = _h(
        "WebAuthn relying-party id for passkeys (a host name, no port). Empty: the host of "
        "[server] public_url. Passkeys need a host name over HTTPS, or localhost.",
        "",
    )
    alert_window_minutes: float = _h("Window over which the alert rules below count events.", 15.0)
    alert_sign_in_failures: int = _h(
        "Failed sign-ins for one account within the window that raise an alert.", 5
    )
    alert_spray_accounts: int = _h(
        "Distinct accounts failing to sign in from one address within the window that raise a "
        "password-spray alert.",
        5,
    )
    alert_second_factor_failures: int = _h(
        "Wrong second-factor codes for one account within the window that raise an alert.", 3
    )
    alert_rate_limit_hits: int = _h(
        "Rate-limit refusals for one address or member within the window that raise an alert.", 10
    )
    alert_bulk_admin_changes: int = _h(
        "Member changes by one administrator within the window that raise an alert.", 20
    )


@dataclass(frozen=True)
class WitnessSettings:
    name: str = _h(
        "Key name of this server's witness key (meetingd witness), e.g. "
        "'committee.example/witness'. Empty: this server is not a witness.",
        "",
    )
    host: str = _h("Address the witness listens on.", "127.0.0.1")
    port: int = _h("TCP port of the witness (0 picks a free one and prints it).", 8444)
    logs: list[str] = _h(
        "Logs this witness cosigns, each '<origin prefix> <base64 Ed25519 public key>' as "
        "'meetingd keys show' prints them on the cell's server: every origin "
        "'<prefix>/<meeting id>' is accepted with that key.",
        [],
    )


@dataclass(frozen=True)
class Config:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    minutes: MinutesSettings = field(default_factory=MinutesSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    witness: WitnessSettings = field(default_factory=WitnessSettings)
    source: str = field(default="<defaults>", compare=False)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()

    @property
    def recordings_path(self) -> Path:
        if self.recording.dir:
            return Path(self.recording.dir).expanduser()
        return self.data_path / "recordings"

    @property
    def node_id(self) -> str:
        return self.cluster.node_id or socket.gethostname()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_path / 'meetingd.db').resolve()}"


SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config) if f.name != "source"
}

_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("server", "tls"): ("off", "self-signed", "files"),
    ("logging", "level"): ("debug", "info", "warning", "error"),
    ("logging", "format"): ("json", "text"),
}


def _expected(tp: Any) -> str:
    if typing.get_origin(tp) in (list, types.GenericAlias) or typing.get_origin(tp) is list:
        return "a list of strings"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[tp]


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        if isinstance(value, str):  # from the environment: comma separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected {_expected(tp)}, got {value!r}")
        return list(value)
    if tp is bool:
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _section(name: str, cls: type, values: Mapping[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{source}: [{name}] {key}"
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key '{key}' in section [{name}]; known keys: {', '.join(sorted(known))}"
            )
        coerced = _coerce(value, hints[key], where)
        choices = _CHOICES.get((name, key))
        if choices and coerced not in choices:
            raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {coerced!r}")
        kwargs[key] = coerced
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    s = cfg.server
    if not 0 <= s.port <= 65535:
        raise ConfigError(f"{cfg.source}: [server] port: expected 0..65535, got {s.port}")
    if s.tls == "off" and s.host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError(
            f"{cfg.source}: [server] tls: plain HTTP is only allowed on loopback; "
            f"host is {s.host!r}: set tls = 'self-signed' or 'files'"
        )
    if s.tls == "files" and not (s.tls_cert and s.tls_key):
        raise ConfigError(f"{cfg.source}: [server] tls = 'files' needs tls_cert and tls_key")
    if cfg.limits.max_payload_bytes < 1024:
        raise ConfigError(f"{cfg.source}: [limits] max_payload_bytes: expected >= 1024")
    if cfg.recording.retention_days < 0:
        raise ConfigError(f"{cfg.source}: [recording] retention_days: expected >= 0")
    if cfg.recording.queue_frames < 10:
        raise ConfigError(f"{cfg.source}: [recording] queue_frames: expected >= 10")
    unknown_roles = set(cfg.security.second_factor_required_for) - {"admin", "officer", "member"}
    if unknown_roles:
        raise ConfigError(
            f"{cfg.source}: [security] second_factor_required_for: unknown "
            f"{sorted(unknown_roles)[0]!r}; expected admin, officer, member"
        )
    if cfg.security.step_up_minutes <= 0:
        raise ConfigError(f"{cfg.source}: [security] step_up_minutes: expected > 0")
    if cfg.auth.socket_token_seconds <= 0:
        raise ConfigError(f"{cfg.source}: [auth] socket_token_seconds: expected > 0")
    if cfg.cluster.redis_url and not cfg.database.url.startswith("postgresql"):
        raise ConfigError(
            f"{cfg.source}: [cluster] redis_url: several nodes need one shared PostgreSQL "
            "database: set [database] url = 'postgresql+asyncpg://...'"
        )
    if cfg.cluster.forward_timeout_seconds <= 0:
        raise ConfigError(f"{cfg.source}: [cluster] forward_timeout_seconds: expected > 0")
    if cfg.cluster.lease_check_seconds <= 0:
        raise ConfigError(f"{cfg.source}: [cluster] lease_check_seconds: expected > 0")


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Load defaults, then ``path`` (if given), then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    raw: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        for name, values in data.items():
            if name not in SECTIONS:
                raise ConfigError(
                    f"{source}: unknown section [{name}]; known sections: {', '.join(SECTIONS)}"
                )
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{name}] must be a table")
            raw[name].update(values)
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        sections[name] = _section(name, cls, raw[name], source)
        prefix = f"MEETINGD_{name.upper()}_"
        env_values = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}
        for key, value in env_values.items():
            var = f"{prefix}{key.upper()}"
            sections[name] = dataclasses.replace(
                sections[name], **{key: _section_value(name, cls, key, value, f"environment {var}")}
            )
        for key, value in (overrides or {}).get(name, {}).items():
            sections[name] = dataclasses.replace(
                sections[name], **{key: _section_value(name, cls, key, value, "override")}
            )
    cfg = Config(**sections, source=source)
    _validate(cfg)
    return cfg


def _section_value(name: str, cls: type, key: str, value: Any, source: str) -> Any:
    return getattr(_section(name, cls, {key: value}, source), key)


def describe() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, help) for every setting: the registry's documentation."""
    rows: list[tuple[str, str, Any, str]] = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            rows.append((name, f.name, default, f.metadata["help"]))
    return rows
