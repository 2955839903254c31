"""Custody of the server's minutes signing key (Ed25519, sealed at rest with scrypt +
ChaCha20-Poly1305, DESIGN.md decision 8).

The key file lives in ``data_dir/keys/minutes-server.json``; the passphrase that opens it
never sits beside it. It comes from, in order:

1. the environment variable named by ``minutes.key_passphrase_env``
   (default ``MEETINGD_KEY_PASSPHRASE``);
2. the file ``minutes.key_passphrase_file`` (must be outside ``data_dir``);
3. a systemd credential: ``$CREDENTIALS_DIRECTORY/meetingd-minutes-key``
   (``LoadCredential=meetingd-minutes-key:/etc/meetingd/minutes-key``);
4. the default credentials file ``<data_dir>.credentials/minutes-key`` (beside the data
   directory, not in it), written by ``meetingd keys init`` or by ``serve --demo``.

With none of them the server refuses to start, naming them. It also refuses a key file or
a passphrase file that other users can read. A key sealed by an older version under a
passphrase derived from ``secret.key`` (which sat in the data directory) is opened once
and re-sealed under the configured passphrase.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.errors import KeyFileError
from recorder.keys import decrypt_private_key, encrypt_private_key, generate_private_key

from .config import Config

logger = logging.getLogger(__name__)

PASSPHRASE_MIN = 12
CREDENTIAL_NAME = "meetingd-minutes-key"


class KeyCustodyError(Exception):
    """The minutes key cannot be opened safely; the message says what to do.

    ``reason`` is a stable name of the problem and ``params`` its facts (paths, names,
    numbers: no sentence), so the security self-check can report it in any language."""

    def __init__(self, message: str, reason: str, **params: str | int) -> None:
        super().__init__(message)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Passphrase:
    value: str
    source: str  # where it came from, for messages (never the value)


def server_key_path(cfg: Config) -> Path:
    return cfg.data_path / "keys" / "minutes-server.json"


def default_credentials_file(cfg: Config) -> Path:
    data = cfg.data_path.resolve()
    return data.parent / f"{data.name}.credentials" / "minutes-key"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _check_private(path: Path, what: str) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXO):
        raise KeyCustodyError(
            f"{path}: the {what} is readable by other users (mode {stat.filemode(mode)}); "
            f"refusing to use it: chmod 600 {path}",
            "file_readable",
            path=str(path),
            mode=stat.filemode(mode),
        )
    if mode & stat.S_IRWXG:
        logger.warning("path=%s the %s is readable by its group", path, what)


def _read_passphrase_file(path: Path, cfg: Config, source: str) -> Passphrase:
    if _inside(path, cfg.data_path):
        raise KeyCustodyError(
            f"{path}: the minutes key's passphrase file is inside the data directory "
            f"{cfg.data_path}; keep it elsewhere (it must not sit beside the key)",
            "file_in_data_dir",
            path=str(path),
            data_dir=str(cfg.data_path),
        )
    _check_private(path, "minutes key passphrase file")
    return Passphrase(_checked(path.read_text(encoding="utf-8").strip(), str(path), str(path)), source)


def _checked(value: str, source: str, where: str) -> str:
    """``source`` says where the passphrase came from in words; ``where`` is only its name
    (an environment variable, a path)."""
    if len(value) < PASSPHRASE_MIN:
        raise KeyCustodyError(
            f"{source}: the passphrase is shorter than {PASSPHRASE_MIN} characters",
            "too_short",
            source=where,
            min=PASSPHRASE_MIN,
        )
    return value


def find_passphrase(cfg: Config, environ: dict[str, str] | None = None) -> Passphrase | None:
    """The configured passphrase (see the module docstring), or None when there is none."""
    env = dict(os.environ) if environ is None else environ
    var = cfg.minutes.key_passphrase_env
    if var and env.get(var):
        return Passphrase(_checked(env[var], f"environment {var}", var), f"environment {var}")
    if cfg.minutes.key_passphrase_file:
        path = Path(cfg.minutes.key_passphrase_file).expanduser()
        if not path.is_file():
            raise KeyCustodyError(
                f"minutes.key_passphrase_file {path} does not exist", "file_missing", path=str(path)
            )
        return _read_passphrase_file(path, cfg, str(path))
    creds = env.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / CREDENTIAL_NAME).is_file():
        path = Path(creds) / CREDENTIAL_NAME
        return _read_passphrase_file(path, cfg, f"systemd credential {CREDENTIAL_NAME}")
    default = default_credentials_file(cfg)
    if default.is_file():
        return _read_passphrase_file(default, cfg, str(default))
    return None


def _missing(cfg: Config) -> KeyCustodyError:
    return KeyCustodyError(
        "no passphrase for the server's minutes key: set the environment variable "
        f"{cfg.minutes.key_passphrase_env}, or minutes.key_passphrase_file (outside the data "
        f"directory), or a systemd credential {CREDENTIAL_NAME} (LoadCredential=), or run "
        f"'meetingd keys init' (which writes {default_credentials_file(cfg)})",
        "no_passphrase",
        env=cfg.minutes.key_passphrase_env,
    )


def write_credentials_file(path: Path, passphrase: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(passphrase + "\n")
    tmp.replace(path)


def provision_demo_passphrase(cfg: Config) -> Path | None:
    """For ``serve --demo`` with nothing configured: a random passphrase in the default
    credentials file (outside the data directory). Returns the file when it wrote it."""
    if find_passphrase(cfg) is not None:
        return None
    path = default_credentials_file(cfg)
    write_credentials_file(path, secrets.token_urlsafe(32))
    logger.warning("path=%s demo: wrote a random minutes key passphrase", path)
    return path


def _seal(path: Path, key: Ed25519PrivateKey, passphrase: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(encrypt_private_key(key, passphrase))
    tmp.replace(path)


def open_key_file(path: Path, passphrase: Passphrase, legacy: str | None = None) -> Ed25519PrivateKey:
    """Open a sealed key file (refusing one others can read); re-seal a legacy one."""
    _check_private(path, "minutes signing key file")
    document = path.read_text(encoding="utf-8")
    try:
        return decrypt_private_key(document, passphrase.value)
    except KeyFileError as exc:
        if legacy is None:
            raise KeyCustodyError(
                f"{path}: cannot open it with the passphrase from {passphrase.source}: {exc}",
                "wrong_passphrase",
                path=str(path),
            ) from None
        try:
            key = decrypt_private_key(document, legacy)
        except KeyFileError:
            raise KeyCustodyError(
                f"{path}: cannot open it with the passphrase from {passphrase.source}: {exc}",
                "wrong_passphrase",
                path=str(path),
            ) from None
    _seal(path, key, passphrase.value)
    logger.warning(
        "path=%s minutes key re-sealed under the passphrase from %s; the passphrase "
        "derived from secret.key no longer opens it",
        path,
        passphrase.source,
    )
    return key


def load_or_create_server_key(cfg: Config, server_secret: bytes) -> Ed25519PrivateKey:
    """The server's minutes key; created (sealed) on first start."""
    passphrase = find_passphrase(cfg)
    if passphrase is None:
        raise _missing(cfg)
    path = server_key_path(cfg)
    if path.exists():
        return open_key_file(path, passphrase, legacy=server_secret.hex())
    key = generate_private_key()
    _seal(path, key, passphrase.value)
    logger.info("generated minutes signing key path=%s passphrase_from=%s", path, passphrase.source)
    return key


def require_passphrase(cfg: Config) -> Passphrase:
    passphrase = find_passphrase(cfg)
    if passphrase is None:
        raise _missing(cfg)
    return passphrase


def witness_key_path(cfg: Config) -> Path:
    return cfg.data_path / "keys" / "witness.json"


def load_or_create_witness_key(cfg: Config) -> Ed25519PrivateKey:
    """The witness key (``meetingd witness``), sealed under the same passphrase sources."""
    passphrase = require_passphrase(cfg)
    path = witness_key_path(cfg)
    if path.exists():
        return open_key_file(path, passphrase)
    key = generate_private_key()
    _seal(path, key, passphrase.value)
    logger.info("generated witness key path=%s passphrase_from=%s", path, passphrase.source)
    return key
