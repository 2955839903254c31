"""The minutes key's passphrase never sits beside the key: environment, a credentials file
outside the data directory, a systemd credential or ``keys init``; the server refuses to
start without one, or with a key file others can read. The demo needs no setup."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meetingd.config import load_config
from meetingd.keystore import KeyCustodyError, load_or_create_server_key, server_key_path
from recorder.errors import KeyFileError
from recorder.keys import decrypt_private_key, encrypt_private_key, generate_private_key
from tests.support.server import start_meetingd, stop_meetingd

PASS = "a long enough passphrase"


def meetingd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_") and k != "CREDENTIALS_DIRECTORY"
    }
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        check=False,
    )


def test_serve_refuses_to_start_without_a_passphrase(tmp_path: Path) -> None:
    out = meetingd("serve", "--data-dir", str(tmp_path / "data"), "--port", "0")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "no passphrase for the server's minutes key" in out.stderr
    assert "MEETINGD_KEY_PASSPHRASE" in out.stderr and "keys init" in out.stderr
    assert not server_key_path(
        load_config(environ={}, overrides={"server": {"data_dir": str(tmp_path / "data")}})
    ).exists()


def test_keys_init_from_the_environment_then_world_readable_key_is_refused(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    done = meetingd("keys", "init", "--data-dir", data, env={"MEETINGD_KEY_PASSPHRASE": PASS})
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout and "environment MEETINGD_KEY_PASSPHRASE" in done.stdout
    key_file = tmp_path / "data" / "keys" / "minutes-server.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    decrypt_private_key(key_file.read_text(), PASS)
    wrong = meetingd(
        "keys", "init", "--data-dir", data, env={"MEETINGD_KEY_PASSPHRASE": "another passphrase!"}
    )
    assert wrong.returncode == 1 and "cannot open it" in wrong.stderr
    key_file.chmod(0o644)
    out = meetingd("serve", "--data-dir", data, "--port", "0", env={"MEETINGD_KEY_PASSPHRASE": PASS})
    assert out.returncode == 2 and "readable by other users" in out.stderr, out.stderr


def _cfg(tmp_path: Path, **minutes: str) -> object:
    return load_config(
        environ={}, overrides={"server": {"data_dir": str(tmp_path / "data")}, "minutes": minutes}
    )


def test_a_passphrase_file_inside_the_data_dir_or_readable_by_others_is_refused(tmp_path) -> None:
    inside = tmp_path / "data" / "pass.txt"
    inside.parent.mkdir()
    inside.write_text(PASS)
    inside.chmod(0o600)
    with pytest.raises(KeyCustodyError, match="inside the data directory"):
        load_or_create_server_key(_cfg(tmp_path, key_passphrase_file=str(inside)), b"x" * 32)
    outside = tmp_path / "etc" / "minutes-key"
    outside.parent.mkdir()
    outside.write_text(PASS)
    outside.chmod(0o644)
    with pytest.raises(KeyCustodyError, match="readable by other users"):
        load_or_create_server_key(_cfg(tmp_path, key_passphrase_file=str(outside)), b"x" * 32)
    outside.chmod(0o600)
    key = load_or_create_server_key(_cfg(tmp_path, key_passphrase_file=str(outside)), b"x" * 32)
    again = load_or_create_server_key(_cfg(tmp_path, key_passphrase_file=str(outside)), b"x" * 32)
    assert key.public_key().public_bytes_raw() == again.public_key().public_bytes_raw()


def test_a_systemd_credential_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "run-credentials"
    creds.mkdir()
    (creds / "meetingd-minutes-key").write_text(PASS + "\n")
    (creds / "meetingd-minutes-key").chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    load_or_create_server_key(_cfg(tmp_path), b"x" * 32)
    decrypt_private_key(server_key_path(_cfg(tmp_path)).read_text(), PASS)  # type: ignore[arg-type]


def test_a_key_sealed_under_the_old_secret_derived_passphrase_is_resealed(tmp_path: Path) -> None:
    secret = hashlib.sha256(b"s" * 32).digest()
    cfg = _cfg(tmp_path, key_passphrase_file=str(tmp_path / "etc" / "minutes-key"))
    old = generate_private_key()
    path = server_key_path(cfg)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True)
    path.write_text(encrypt_private_key(old, secret.hex()))
    path.chmod(0o600)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "minutes-key").write_text(PASS)
    (tmp_path / "etc" / "minutes-key").chmod(0o600)
    key = load_or_create_server_key(cfg, secret)  # type: ignore[arg-type]
    assert key.public_key().public_bytes_raw() == old.public_key().public_bytes_raw()
    decrypt_private_key(path.read_text(), PASS)
    with pytest.raises(KeyFileError):
        decrypt_private_key(path.read_text(), secret.hex())


def test_the_demo_needs_no_setup_and_keeps_the_passphrase_outside_the_data_dir(tmp_path) -> None:
    env = {"MEETINGD_KEY_PASSPHRASE": ""}
    _url, proc = start_meetingd(tmp_path, env=env)
    stop_meetingd(proc)
    creds = tmp_path / "data.credentials" / "minutes-key"
    assert creds.is_file() and creds.stat().st_mode & 0o777 == 0o600
    key_file = tmp_path / "data" / "keys" / "minutes-server.json"
    decrypt_private_key(key_file.read_text(), creds.read_text().strip())
    secret = hashlib.sha256((tmp_path / "data" / "secret.key").read_bytes()).digest()
    with pytest.raises(KeyFileError):  # what sits in the data directory does not open the key
        decrypt_private_key(key_file.read_text(), secret.hex())
    _url, proc = start_meetingd(tmp_path, env=env)  # and it starts again with it
    assert stop_meetingd(proc) == 0
