"""The server's minutes signing key: Ed25519, encrypted at rest (scrypt + ChaCha20-Poly1305)."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.keys import decrypt_private_key, encrypt_private_key, generate_private_key

from .config import Config

logger = logging.getLogger(__name__)


def server_key_path(cfg: Config) -> Path:
    return cfg.data_path / "keys" / "minutes-server.json"


def key_passphrase(cfg: Config, server_secret: bytes) -> str:
    if cfg.minutes.key_passphrase_file:
        text = Path(cfg.minutes.key_passphrase_file).read_text().strip()
        if len(text) < 12:
            raise ValueError(f"{cfg.minutes.key_passphrase_file}: passphrase is too short")
        return text
    return server_secret.hex()


def load_or_create_server_key(cfg: Config, server_secret: bytes) -> Ed25519PrivateKey:
    path = server_key_path(cfg)
    passphrase = key_passphrase(cfg, server_secret)
    if path.exists():
        return decrypt_private_key(path.read_text(), passphrase)
    key = generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(encrypt_private_key(key, passphrase))
    tmp.chmod(0o600)
    tmp.replace(path)
    logger.info("generated minutes signing key path=%s", path)
    return key
