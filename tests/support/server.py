"""Start the real ``meetingd`` process (demo data seeded) for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from meetingd.demo import DEMO_PASSWORD

__all__ = ["DEMO_PASSWORD", "start_meetingd", "stop_meetingd"]

_URL = re.compile(r"listening on (https?://\S+)")


def start_meetingd(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[str, subprocess.Popen[str]]:
    """``meetingd serve --demo`` on 127.0.0.1, a free port, data under ``tmp_path``."""
    data = tmp_path / "data"
    with open(tmp_path / "meetingd.log", "a") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meetingd",
                "serve",
                "--demo",
                "--demo-no-committee",  # the demo meeting is the only meeting (tests seed their own)
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data),
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            # The demo officers have no second factor: tests that need the production
            # default (admins and officers must have one) pass it in ``env``.
            env={
                **os.environ,
                "MEETINGD_LOGGING_FORMAT": "json",
                "MEETINGD_SECURITY_SECOND_FACTOR_REQUIRED_FOR": "",
                **(env or {}),
            },
        )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"meetingd exited {proc.returncode}: {(tmp_path / 'meetingd.log').read_text()[-2000:]}"
                )
            continue
        m = _URL.search(line)
        if m:
            return m.group(1), proc
    proc.kill()
    raise RuntimeError("meetingd did not start in time")


def stop_meetingd(proc: subprocess.Popen[str], timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()
    return proc.returncode
