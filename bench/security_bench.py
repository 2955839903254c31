"""What strict identity costs (issue 15 benchmark).

* Recording a security event: ``SecurityLog.record`` (one durable row, the alert rules,
  an alert row when one fires) against the floor under it — one durable INSERT + COMMIT
  with the stdlib sqlite3 driver (WAL, synchronous=FULL) on the same file system, in the
  same run. Half the events come from a password spray, so the alert path is measured too.
* Checking a TOTP code: ``totp.accept`` (current step +-1, replay guard) against one bare
  HMAC-SHA1 of a counter, in the same run.

Run: ``python bench/security_bench.py [--events 2000]``. Prints its figures; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from meeting.clock import utc_now
from meetingd.config import SecuritySettings
from meetingd.security import totp
from meetingd.security.alerts import AlertRules
from meetingd.security.events import SecurityLog
from meetingd.storage.db import create_engine, sessionmaker, upgrade_schema

logging.getLogger("meetingd").setLevel(logging.ERROR)  # the alerts it raises are the point, not noise


def raw_commit_baseline(path: Path, n: int) -> list[float]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, kind TEXT, details TEXT)")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "INSERT INTO t (at, kind, details) VALUES (?, ?, ?)",
            (datetime.now(UTC).isoformat(), "sign_in_failed", f'{{"n": {i}}}'),
        )
        con.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    con.close()
    return out


async def record_events(path: Path, n: int) -> tuple[list[float], int]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_schema(engine)
    log = SecurityLog(sessionmaker(engine), utc_now, AlertRules(SecuritySettings()))
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        if i % 2:
            await log.record("sign_in_failed", member_id=f"M-{i % 97:03d}", address="10.0.0.9")
        else:
            await log.record(
                "signed_in", member_id=f"M-{i % 97:03d}", address=f"10.1.{i % 250}.1", factor="totp"
            )
        out.append(time.perf_counter() - t0)
    alerts = len(await log.alerts(limit=10_000))
    await engine.dispose()
    return out, alerts


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def totp_figures(n: int) -> tuple[float, float]:
    secret = totp.new_secret()
    now = datetime.now(UTC)
    code = totp.code_at(secret, totp.step_of(now))
    t0 = time.perf_counter()
    for _ in range(n):
        totp.accept(secret, code, now, -1)
    ours = (time.perf_counter() - t0) / n
    key = hashlib.sha256(b"k").digest()[:20]
    t0 = time.perf_counter()
    for i in range(n):
        hmac.new(key, i.to_bytes(8, "big"), hashlib.sha1).digest()
    bare = (time.perf_counter() - t0) / n
    return ours * 1e6, bare * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--codes", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_commit_baseline(Path(tmp) / "raw.db", args.events)
        ours, alerts = asyncio.run(record_events(Path(tmp) / "security.db", args.events))
    print(
        f"security event record: median {statistics.median(ours) * 1000:.2f} ms, p99 {p(ours, 0.99):.2f} ms "
        f"({args.events} events, {alerts} alerts raised/merged)"
    )
    print(
        f"raw durable sqlite3 insert+commit: median {statistics.median(raw) * 1000:.2f} ms, "
        f"p99 {p(raw, 0.99):.2f} ms"
    )
    print(f"ratio (median): {statistics.median(ours) / statistics.median(raw):.1f}x the raw commit")
    ours_us, bare_us = totp_figures(args.codes)
    print(
        f"totp.accept: {ours_us:.1f} us per check; one bare HMAC-SHA1: {bare_us:.2f} us; "
        f"ratio {ours_us / bare_us:.0f}x (it computes up to 3 codes, constant-time compares)"
    )


if __name__ == "__main__":
    main()
