"""Durable minutes append latency through ``Journal.transaction`` (issue 5 benchmark).

A real SQLite file (WAL, ``synchronous=FULL``) in a temp dir, the background
checkpointer running (``--checkpoint-seconds``, default 1 s, so several checkpoints are
signed during the run). Each append is one transaction with one minutes entry, timed
from entering ``journal.transaction`` to its commit. Target (issue 12): p99 <= 2 ms,
beside a raw durable sqlite3 commit measured in the same run.

Run: ``python bench/minutes_append_bench.py [--appends 5000]``. Prints its figures;
not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from meeting.clock import utc_now
from meetingd.journal import Journal
from meetingd.storage.db import create_engine, sessionmaker, upgrade_schema
from meetingd.storage.models import Cell, Meeting, MinutesCheckpoint
from recorder.keys import generate_private_key


def raw_commit_baseline(path: Path, n: int) -> list[float]:
    """The floor under us: one durable INSERT + COMMIT with the stdlib sqlite3 driver
    (WAL, synchronous=FULL) on the same file system, measured in the same run."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
    body = '{"type":"secretary_note","text":"' + "x" * 120 + '"}'
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t VALUES (?, ?)", (i, body))
        con.execute("COMMIT")
        out.append((time.perf_counter() - t0) * 1000)
    con.close()
    return out


async def run(appends: int, checkpoint_seconds: float, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await upgrade_schema(engine)
        db = sessionmaker(engine)
        async with db() as s, s.begin():
            cell = Cell(name="bench")
            s.add(cell)
            await s.flush()
            s.add(
                Meeting(
                    id=1, title="bench", cell_id=cell.id, place="", starts_at=datetime.now(UTC), state="open"
                )
            )
        journal = Journal(db, generate_private_key(), "bench.example/minutes", utc_now, checkpoint_seconds)
        journal.start()
        latencies: list[float] = []

        async def one(i: int) -> None:
            t0 = time.perf_counter()
            async with journal.transaction(1) as tx:
                tx.record("secretary_note", text=f"note {i}", by="C1-SEC")
            latencies.append((time.perf_counter() - t0) * 1000)

        for _ in range(50):  # warm-up
            await one(-1)
        latencies.clear()
        start = time.perf_counter()
        for i in range(0, appends, concurrency):
            await asyncio.gather(*(one(i + j) for j in range(min(concurrency, appends - i))))
        wall = time.perf_counter() - start
        await journal.stop()
        async with db() as s:
            checkpoints = await s.scalar(select(func.count()).select_from(MinutesCheckpoint))
        await engine.dispose()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"appends                 {len(latencies)} (concurrency {concurrency}), SQLite WAL synchronous=FULL"
    )
    print(f"append latency p50      {q[49]:.2f} ms")
    print(f"append latency p99      {q[98]:.2f} ms   (target <= 2 ms)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_commit_baseline(Path(tmp) / "raw.db", min(appends, 2000))
    rq = statistics.quantiles(raw, n=100)
    print(
        f"baseline raw sqlite3 durable commit p50/p99 {rq[49]:.2f} / {rq[98]:.2f} ms; "
        f"journal/raw ratio p50 {q[49] / rq[49]:.1f}x, p99 {q[98] / rq[98]:.1f}x"
    )
    print(f"append latency max      {max(latencies):.2f} ms")
    print(f"throughput              {len(latencies) / wall:.0f} appends/s")
    print(f"checkpoints signed      {checkpoints} (every {checkpoint_seconds} s while appending)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--appends", type=int, default=5000)
    p.add_argument("--checkpoint-seconds", type=float, default=1.0)
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="transactions started together (they queue on the meeting's lock)",
    )
    args = p.parse_args()
    asyncio.run(run(args.appends, args.checkpoint_seconds, args.concurrency))


if __name__ == "__main__":
    main()
