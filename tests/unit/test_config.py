"""The settings registry: documented, typed, and strict about mistakes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meetingd.config import ConfigError, describe, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "meetingd.example.toml"


def test_every_setting_is_documented_in_the_example_file() -> None:
    text = EXAMPLE.read_text()
    sections = dict.fromkeys(re.findall(r"^\[(\w+)\]", text, re.M))
    for section, key, _default, help_text in describe():
        assert section in sections, f"[{section}] missing from {EXAMPLE.name}"
        block = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
        assert re.search(rf"^{key} = ", block, re.M), f"[{section}] {key} undocumented"
        assert help_text


def test_example_file_loads_and_matches_defaults() -> None:
    cfg = load_config(EXAMPLE, environ={})
    default = load_config(environ={})
    for section, key, _d, _h in describe():
        assert getattr(getattr(cfg, section), key) == getattr(getattr(default, section), key)


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text("[server]\nprot = 80\n")
    with pytest.raises(ConfigError, match=r"m\.toml: unknown key 'prot' in section \[server\]"):
        load_config(f, environ={})


def test_unknown_section(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text("[sever]\nport = 80\n")
    with pytest.raises(ConfigError, match=r"unknown section \[sever\]"):
        load_config(f, environ={})


def test_bad_value_says_what_was_expected(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text('[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"\[server\] port: expected an integer, got 'eighty'"):
        load_config(f, environ={})
    f.write_text('[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match=r"expected one of json, text"):
        load_config(f, environ={})


def test_environment_overrides_file(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text("[server]\nport = 9000\n")
    cfg = load_config(
        f,
        environ={"MEETINGD_SERVER_PORT": "9100", "MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1, 10.0.0.1"},
    )
    assert cfg.server.port == 9100
    assert cfg.media.announce_addresses == ["127.0.0.1", "10.0.0.1"]
    with pytest.raises(ConfigError, match="environment MEETINGD_SERVER_PORT"):
        load_config(f, environ={"MEETINGD_SERVER_PORT": "x"})


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigError, match="plain HTTP is only allowed on loopback"):
        load_config(environ={"MEETINGD_SERVER_HOST": "0.0.0.0"})
    cfg = load_config(environ={"MEETINGD_SERVER_HOST": "0.0.0.0", "MEETINGD_SERVER_TLS": "self-signed"})
    assert cfg.server.tls == "self-signed"
