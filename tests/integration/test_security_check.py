"""The risk self-check on the admin page and as `meetingd security check`/`report`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]


def ids(findings: list[dict]) -> set[str]:
    return {f["id"] for f in findings}


async def test_the_admin_page_check_finds_the_demo_and_says_how_to_fix_it(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call("GET", "/api/admin/security/check")
    assert status == 200
    found = ids(body["findings"])
    assert {
        "demo_accounts",
        "demo_password",
        "officers_without_second_factor",
        "passphrase_beside_key",
        "second_factor_not_required_admins",
    } <= found
    assert "file_readable" not in found  # the server writes its secrets 0600
    assert all(f["fix"] for f in body["findings"])
    assert body["findings"][0]["severity"] == "high"  # worst first
    member = await sign_in("C1-001")
    assert (await member.call("GET", "/api/admin/security/check"))[0] == 403


async def test_a_secret_readable_by_others_is_a_finding(sign_in, server) -> None:
    (server.data_dir / "secret.key").chmod(0o644)
    admin = await sign_in("C1-CHAIR")
    _s, body = await admin.call("GET", "/api/admin/security/check")
    readable = [f for f in body["findings"] if f["id"] == "file_readable"]
    assert readable and "secret.key" in readable[0]["message"]
    assert readable[0]["fix"].startswith("chmod 600")
    # the facts the page says it from, in the reader's language
    assert readable[0]["params"] == {
        "what": "server_secret",
        "path": str(server.data_dir / "secret.key"),
        "mode": "-rw-r--r--",
    }


@pytest.mark.parametrize(
    ("case", "kind"),
    [
        ("missing", "passphrase_file_missing"),
        ("in_data_dir", "passphrase_file_in_data_dir"),
        ("readable", "passphrase_file_readable"),
        ("short", "passphrase_too_short"),
    ],
)
def test_an_unusable_passphrase_file_is_a_finding_of_its_own_kind_with_its_facts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, kind: str
) -> None:
    from meetingd.config import load_config
    from meetingd.security.check import check_key_passphrase

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = {"missing": tmp_path / "none", "in_data_dir": data / "pass"}.get(case, tmp_path / "pass")
    if case != "missing":
        path.write_text("abc" if case == "short" else "a long enough passphrase")
        path.chmod(0o644 if case == "readable" else 0o600)
    cfg = load_config(
        environ={},
        overrides={"server": {"data_dir": str(data)}, "minutes": {"key_passphrase_file": str(path)}},
    )
    monkeypatch.delenv(cfg.minutes.key_passphrase_env, raising=False)
    [found] = check_key_passphrase(cfg)
    assert (found.id, found.severity) == (kind, "high")
    assert found.params.get("path", found.params.get("source")) == str(path)
    if case == "short":
        assert found.params["min"] == 12
    assert str(path) in found.message  # the English sentence for the command line and logs


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )


async def test_the_command_line_check_and_report(sign_in, server) -> None:
    attacker = await sign_in("C1-008")
    for victim in ("C1-001", "C1-002", "C1-003", "C1-004", "C1-005"):
        await attacker.call("POST", "/api/login", {"member_id": victim, "password": "Spring2026!"})
    data = str(server.data_dir)
    out = run_cli("security", "check", "--json", "--data-dir", data)
    assert out.returncode == 1, out.stderr  # high findings
    assert "demo_password" in ids(json.loads(out.stdout)["findings"])
    out = run_cli("security", "report", "--since", "1h", "--data-dir", data)
    assert out.returncode == 0, out.stderr
    assert "password_spray" in out.stdout and "sign_in_failed" in out.stdout
    out = run_cli("security", "report", "--since", "yesterday", "--data-dir", data)
    assert out.returncode != 0 and "--since" in out.stderr


async def test_a_schema_behind_is_a_finding_with_its_fix(tmp_path) -> None:
    from meetingd.config import load_config
    from meetingd.security.check import run_checks
    from meetingd.storage.db import create_engine, sessionmaker, upgrade_schema

    cfg = load_config(environ={}, overrides={"server": {"data_dir": str(tmp_path / "data")}})
    (tmp_path / "data").mkdir(mode=0o700)
    engine = create_engine(cfg.database_url)
    try:
        await upgrade_schema(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE schema_meta SET value = '4' WHERE key = 'schema_version'"))
        findings = {f.id: f for f in await run_checks(cfg, sessionmaker(engine))}
    finally:
        await engine.dispose()
    assert "schema_behind" in findings and "start meetingd once" in findings["schema_behind"].fix
    assert "keys init" in findings["no_key_passphrase"].fix  # nothing configured in this data dir


def test_an_installed_dependency_older_than_required_is_a_finding(tmp_path) -> None:
    from meetingd.security.check import check_dependencies

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["pyotp>=99.0", "segno>=1.0", "no-such-pkg-x>=1"]\n')
    found = {(f.id, f.message.split()[0]) for f in check_dependencies(pyproject)}
    assert found == {("dependency_behind", "pyotp"), ("dependency_missing", "no-such-pkg-x")}
