"""The real ``meetingd`` process: the demo, the CLI, HTTPS, graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support.server import DEMO_PASSWORD, start_meetingd, stop_meetingd


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args], capture_output=True, text=True, timeout=60
    )


def test_demo_serves_health_and_web_client(tmp_path: Path) -> None:
    url, proc = start_meetingd(tmp_path)
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
            assert json.loads(r.read())["status"] == "ok"
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            assert b"<html" in r.read().lower()
    finally:
        assert stop_meetingd(proc) == 0
    # idempotent: a second start seeds nothing twice
    url, proc = start_meetingd(tmp_path)
    stop_meetingd(proc)
    out = run_cli("members", "list", "--data-dir", str(tmp_path / "data"))
    assert out.returncode == 0, out.stderr
    assert "12 members" in out.stdout


async def _member_socket(
    http: aiohttp.ClientSession, url: str, member_id: str, **handlers: Callable[[Any], Any]
) -> socketio.AsyncClient:
    """Sign ``member_id`` in and open its socket, as a browser does (with Origin)."""
    async with http.post(
        url + "/api/login", headers={"Origin": url}, json={"member_id": member_id, "password": DEMO_PASSWORD}
    ) as r:
        assert r.status == 200
    async with http.post(url + "/api/socket-token", headers={"Origin": url}) as r:
        token = (await r.json())["token"]
    sio = socketio.AsyncClient(reconnection=False)
    for event, handler in handlers.items():
        sio.on(event, handler, namespace="/meeting")
    await sio.connect(
        url, namespaces=["/meeting"], auth={"token": token}, transports=["websocket"], headers={"Origin": url}
    )
    return sio


async def test_sigterm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    url, proc = start_meetingd(tmp_path)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            notices: list = []
            sio = await _member_socket(http, url, "C1-001", server_shutting_down=notices.append)
            await sio.call("join", {"meeting_id": 1, "attendance": "remote"}, namespace="/meeting")
            acks = [
                await sio.call("send_chat", {"text": f"note {i}"}, namespace="/meeting") for i in range(20)
            ]
            assert all(a["ok"] for a in acks)
            # in a thread, so this client can answer the server's close handshake
            assert await asyncio.to_thread(stop_meetingd, proc) == 0
            assert notices and "restarting" in notices[0]["message"]
            await sio.disconnect()
    finally:
        stop_meetingd(proc)
    url, proc = start_meetingd(tmp_path)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            sio = await _member_socket(http, url, "C1-002")
            ack = await sio.call("join", {"meeting_id": 1, "attendance": "remote"}, namespace="/meeting")
            assert [m["text"] for m in ack["chat"]] == [f"note {i}" for i in range(20)]
            await sio.disconnect()
    finally:
        stop_meetingd(proc)


def test_self_signed_https_prints_fingerprint(tmp_path: Path) -> None:
    url, proc = start_meetingd(tmp_path, "--tls", "self-signed")
    try:
        assert url.startswith("https://127.0.0.1:")
        log = proc.stdout.readline() if proc.stdout else ""
        assert "SHA-256 fingerprint" in log
        cert = tmp_path / "data" / "tls" / "cert.pem"
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False  # the cert names 127.0.0.1 as an IP SAN; urllib uses the IP
        with urllib.request.urlopen(url + "/healthz", context=ctx, timeout=10) as r:
            assert json.loads(r.read())["ok"] is True
            assert "max-age" in r.headers["Strict-Transport-Security"]
    finally:
        stop_meetingd(proc)


def test_members_import_is_all_or_nothing(tmp_path: Path) -> None:
    from meetingd.keystore import write_credentials_file

    data = str(tmp_path / "data")
    # the import is recorded in the signed organisation log: the minutes key's passphrase
    # sits in the default credentials file beside the data directory (as keys init writes it)
    write_credentials_file(tmp_path / "data.credentials" / "minutes-key", "import test passphrase")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "member_id,full_name,cell,contact,status\n"
        "C9-001,Good Person,Cell 9,,active\n"
        "bad id,Bad Id,Cell 9,,active\n"
        "C9-001,Duplicate,Cell 9,,active\n"
        "C9-004,,Cell 9,,retired\n"
    )
    out = run_cli("members", "import", str(bad), "--data-dir", data)
    assert out.returncode == 1
    assert "line 3: member_id 'BAD ID' is not valid" in out.stderr
    assert "line 4: member_id C9-001 already on line 2" in out.stderr
    assert "line 5: full_name is empty" in out.stderr
    assert "line 5: status 'retired'" in out.stderr
    listing = run_cli("members", "list", "--data-dir", data)
    assert "0 members" in listing.stdout  # nothing half-imported
    good = tmp_path / "good.csv"
    good.write_text("member_id,full_name,cell\nC9-001,Good Person,Cell 9\nC9-002,Other,Cell 9\n")
    out = run_cli("members", "import", str(good), "--data-dir", data)
    assert out.returncode == 0, out.stderr
    assert "2 created, 0 updated, 1 new cells" in out.stdout
    header = tmp_path / "header.csv"
    header.write_text("id,name\n1,x\n")
    out = run_cli("members", "import", str(header), "--data-dir", data)
    assert "line 1: missing column(s) member_id, full_name, cell" in out.stderr


def test_check_config_reports_the_bad_key(tmp_path: Path) -> None:
    f = tmp_path / "m.toml"
    f.write_text("[limits]\nmax_payload = 1\n")
    out = run_cli("check-config", "--config", str(f))
    assert out.returncode == 2
    assert "unknown key 'max_payload' in section [limits]" in out.stderr
    example = Path(__file__).resolve().parents[2] / "config" / "meetingd.example.toml"
    out = run_cli("check-config", "--config", str(example))
    assert out.returncode == 0 and "OK" in out.stdout


def test_the_server_takes_its_start_up_heap_out_of_the_garbage_collectors_view(tmp_path: Path) -> None:
    """Full collections walked every module and service object and stalled the loop up to
    190 ms in a join storm (docs/capacity.md): the real process freezes them once up."""
    url, proc = start_meetingd(tmp_path)
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            text = r.read().decode()
    finally:
        stop_meetingd(proc)
    (frozen,) = [line for line in text.splitlines() if line.startswith("meetingd_gc_frozen_objects{")]
    assert float(frozen.rsplit(" ", 1)[1]) > 50_000, frozen
    assert 'meetingd_gc_collections_total{generation="2"' in text, text[:2000]
