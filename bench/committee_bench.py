"""The committee's figures at scale (issue 14 benchmark).

A synthetic organisation — 1 committee, 200 cells, 10,000 members, 2,400 closed meetings
(one a month for a year), every meeting a real signed minutes log written where the
journal writes it — in a real SQLite file. The logs are written in bulk, as by a meetingd
from before the per-meeting summaries existed. Measured, in one run:

* **backfill**: every meeting's summary folded from its minutes and stored (what the
  first report after an upgrade costs, once);
* **summary at seal**: what the journal's listener costs one meeting when its closing or
  seal checkpoint is signed (from then on every closed meeting has its row);
* **report, cold**: a new process, every summary stored, no cached report: the figures
  aggregated from the rows, then the report document, CSV and HTML;
* **report after a change**: a meeting is sealed (its summary moves to the new
  checkpoint), the figures recomputed in the same process; **after a restart, nothing
  changed** (the figures cached in the database) and **unchanged** (in memory);
* **page data**: ``GET /api/committees/{id}/figures`` over HTTP from the real aiohttp app
  on 127.0.0.1, signed in as an administrator (the committee page's one request):
  first request of a new process with no cached page, then p50/p99 unchanged and p50/p99
  each right after a meeting was sealed (the page recomputed);
* **memory**: peak Python allocations (tracemalloc) of the backfill and of a cold and a
  warm report, and the process's peak RSS;
* **baseline**: a hand-written SQL aggregation with the stdlib ``sqlite3`` driver over the
  same file (json_extract over the minutes entries: entitled and attended per cell) —
  the floor for "just count it in the database". Its totals must equal the report's.

Targets: report <= 5 s, page data <= 500 ms. Prints figures and ratios; not a test.
Run: ``python bench/committee_bench.py [--cells 200 --members-per-cell 50 --months 12]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete, select, update

from meetingd.app import build_app, open_services
from meetingd.committee.figures import Figures
from meetingd.committee.report import report_csv, report_document, report_html
from meetingd.committee.summaries import MeetingSummaries
from meetingd.committee.synthetic import SyntheticOrg, seed_organisation
from meetingd.config import Config, load_config
from meetingd.keystore import write_credentials_file
from meetingd.passwords import hash_password
from meetingd.services import services_key
from meetingd.storage.models import Meeting, Member
from meetingd.storage.org_models import CommitteeReportRow
from meetingd.storage.participation_models import MeetingSummaryRow

START, END = date(2025, 1, 1), date(2025, 12, 31)
ADMIN, PASSWORD = "K-SYN-000-000", "bench-password-14"
VOTING = ("chair", "secretary", "member")

BASELINE_SQL = """
WITH m AS (
  SELECT id, cell_id FROM meetings
  WHERE state = 'closed' AND cell_id IN (SELECT cell_id FROM cell_committees WHERE committee_id = :cid)
    AND date(opened_at) BETWEEN :start AND :end
),
entitled AS (
  SELECT m.cell_id, COUNT(*) AS n FROM participants p JOIN m ON m.id = p.meeting_id
  WHERE p.role IN ('chair', 'secretary', 'member') GROUP BY m.cell_id
),
came AS (
  SELECT DISTINCT e.meeting_id, json_extract(e.canonical, '$.member_id') AS mid
  FROM minutes_entries e JOIN m ON m.id = e.meeting_id
  WHERE e.type IN ('member_joined', 'member_checked_in')
),
attended AS (
  SELECT m.cell_id, COUNT(*) AS n FROM came
  JOIN m ON m.id = came.meeting_id
  JOIN members mb ON mb.member_id = came.mid
  JOIN participants p ON p.meeting_id = came.meeting_id AND p.member_pk = mb.id
  WHERE p.role IN ('chair', 'secretary', 'member') GROUP BY m.cell_id
)
SELECT entitled.cell_id, entitled.n, COALESCE(attended.n, 0)
FROM entitled LEFT JOIN attended ON attended.cell_id = entitled.cell_id
"""


def baseline(db: Path, committee_id: int) -> tuple[float, int, int]:
    con = sqlite3.connect(db)
    t0 = time.perf_counter()
    rows = con.execute(
        BASELINE_SQL, {"cid": committee_id, "start": START.isoformat(), "end": END.isoformat()}
    ).fetchall()
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed, sum(r[1] for r in rows), sum(r[2] for r in rows)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(cfg: Config, args: argparse.Namespace) -> SyntheticOrg:
    svc = await open_services(cfg)
    try:
        org = await seed_organisation(
            svc, cells=args.cells, members_per_cell=args.members_per_cell, months=args.months, year=START.year
        )
        async with svc.db() as s, s.begin():
            await s.execute(
                update(Member)
                .where(Member.member_id == ADMIN)
                .values(is_admin=True, password_hash=hash_password(PASSWORD))
            )
        return org
    finally:
        await svc.engine.dispose()


async def report_once(figures: Figures, committee_id: int) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    data = await figures.committee(None, committee_id, START, END, 3)
    doc = report_document(data, "bench")
    report_csv(doc)
    report_html(doc, "en")
    return time.perf_counter() - t0, doc


async def drop_reports(svc: Any) -> None:
    """Forget the reports cached in the database (the summaries stay)."""
    async with svc.db() as s, s.begin():
        await s.execute(delete(CommitteeReportRow))


def fresh_figures(svc: Any) -> Figures:
    """The figures of a new process: nothing in memory."""
    return Figures(svc.db, MeetingSummaries(svc.db, svc.journal, svc.clock))


class Sealer:
    """Seals the synthetic meetings one by one (each seal is a real change to the figures)."""

    def __init__(self, org: SyntheticOrg) -> None:
        self._todo = list(org.meeting_ids)

    async def seal_one(self, svc: Any) -> None:
        async with svc.db() as s:
            while self._todo:
                mid = self._todo.pop()
                if await s.scalar(select(Meeting.state).where(Meeting.id == mid)) == "closed":
                    break
        await svc.minutes.seal(mid, "en")


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def backfill(cfg: Config, org: SyntheticOrg, seals: int) -> dict[str, Any]:
    svc = await open_services(cfg)
    out: dict[str, Any] = {}
    try:
        summaries = MeetingSummaries(svc.db, svc.journal, svc.clock)
        tracemalloc.start()
        t0 = time.perf_counter()
        await summaries.of(org.meeting_ids)
        out["backfill"] = time.perf_counter() - t0
        out["peak_backfill_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["computed"] = summaries.computed
        # the listener, as at a seal: the journal has the meeting's log loaded already
        times = []
        async with svc.db() as s:
            latest = await summaries.latest_sizes(s, org.meeting_ids)
        for mid in sorted(latest)[:seals]:
            await svc.journal.is_closed(mid)
            async with svc.db() as s, s.begin():
                await s.execute(delete(MeetingSummaryRow).where(MeetingSummaryRow.meeting_id == mid))
            listener = MeetingSummaries(svc.db, svc.journal, svc.clock)  # nothing in memory
            t0 = time.perf_counter()
            await listener.meeting_signed(mid, latest[mid])
            times.append(time.perf_counter() - t0)
            assert listener.computed == 1
        out["at_seal"] = statistics.median(times)
    finally:
        await svc.engine.dispose()
    return out


async def measure(cfg: Config, org: SyntheticOrg, sealer: Sealer, repeat: int) -> dict[str, Any]:
    """cold: a new process, summaries stored; changed: a meeting sealed since; restart: a new
    process, the report cached in the database; hot: the same process, nothing changed."""
    svc = await open_services(cfg)
    out: dict[str, Any] = {}
    cid = org.committee_id
    try:
        cold, peaks = [], []
        for _ in range(repeat):
            await drop_reports(svc)
            tracemalloc.start()
            t, out["doc"] = await report_once(fresh_figures(svc), cid)
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
            cold.append(t)
        out["cold"], out["peak_cold_mb"] = statistics.median(cold), max(peaks)
        figures = svc.committee.figures
        await report_once(figures, cid)
        changed, peaks = [], []
        for _ in range(repeat):
            await sealer.seal_one(svc)
            tracemalloc.start()
            changed.append((await report_once(figures, cid))[0])
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
            tracemalloc.stop()
        out["changed"], out["peak_changed_mb"] = statistics.median(changed), max(peaks)
        out["hot"] = statistics.median([(await report_once(figures, cid))[0] for _ in range(repeat)])
        out["restart"] = statistics.median(
            [(await report_once(fresh_figures(svc), cid))[0] for _ in range(repeat)]
        )
    finally:
        await svc.engine.dispose()
    return out


async def page_data(cfg: Config, committee_id: int, sealer: Sealer, repeat: int) -> dict[str, Any]:
    """The committee page's request over HTTP: first of a new process (no cached page), then
    unchanged, then each right after a meeting was sealed."""
    core = await open_services(cfg)
    await drop_reports(core)
    await core.engine.dispose()
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    svc = app[services_key]
    svc.public_url = url
    out: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                url + "/api/login", json={"member_id": ADMIN, "password": PASSWORD}, headers={"Origin": url}
            ) as r:
                assert r.status == 200, await r.text()
            path = f"{url}/api/committees/{committee_id}/figures?from={START}&to={END}"

            async def get() -> float:
                t0 = time.perf_counter()
                async with http.get(path) as r:
                    body = await r.read()
                    assert r.status == 200, body[:200]
                out["size"] = len(body)
                return time.perf_counter() - t0

            out["first"] = await get()
            out["unchanged"] = [await get() for _ in range(repeat * 4)]
            after = []
            for _ in range(repeat * 2):
                await sealer.seal_one(svc)
                after.append(await get())
            out["after_seal"] = after
    finally:
        await runner.cleanup()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", type=int, default=200)
    p.add_argument("--members-per-cell", type=int, default=50)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_credentials_file(Path(tmp) / "data.credentials" / "minutes-key", "bench passphrase of the key")
        cfg = load_config(
            environ={},
            overrides={
                "server": {"host": "127.0.0.1", "port": 0, "data_dir": str(Path(tmp) / "data")},
                "logging": {"level": "warning"},
                # the bench signs in as an administrator without a second factor
                "security": {"second_factor_required_for": []},
            },
        )
        t0 = time.perf_counter()
        org = asyncio.run(seed(cfg, args))
        seeded = time.perf_counter() - t0
        db = cfg.data_path / "meetingd.db"
        print(
            f"organisation: 1 committee, {len(org.cell_ids)} cells, {org.members} members, "
            f"{len(org.meeting_ids)} meetings, {org.entries} minutes entries; seeded in {seeded:.1f} s; "
            f"database {db.stat().st_size / 2**20:.0f} MB"
        )
        sealer = Sealer(org)
        base, b_entitled, b_attended = baseline(db, org.committee_id)
        bf = asyncio.run(backfill(cfg, org, 50))
        m = asyncio.run(measure(cfg, org, sealer, args.repeat))
        pg = asyncio.run(page_data(cfg, org.committee_id, sealer, args.repeat))
        base_after, _, _ = baseline(db, org.committee_id)  # the machine's load may have changed
        base = statistics.median([base, base_after])
        totals = m["doc"]["figures"]["totals"]
        same = (totals["entitled"], totals["attended"]) == (b_entitled, b_attended)

        def met(seconds: float, target: float) -> str:
            return "met" if seconds <= target else "MISSED"

        print(
            f"figures: {totals['held']} meetings held of {totals['scheduled']} scheduled, attendance "
            f"{100 * totals['attendance_rate']:.1f}%, {totals['polls']} polls, "
            f"{len(m['doc']['figures']['members'])} member rows, {len(m['doc']['bundles'])} bundles listed"
        )
        print(
            f"baseline (raw SQL aggregation, sqlite3 + json_extract): {base * 1000:.0f} ms; "
            f"entitled/attended {b_entitled}/{b_attended} {'= the report' if same else '!= THE REPORT'}"
        )
        print(
            f"backfill (meetings sealed before: {bf['computed']} summaries folded from the minutes, once): "
            f"{bf['backfill']:.2f} s, {bf['backfill'] / max(bf['computed'], 1) * 1000:.1f} ms a meeting; "
            f"{bf['backfill'] / base:.1f}x the baseline"
        )
        print(f"summary at seal (the journal's listener, one meeting): median {bf['at_seal'] * 1000:.1f} ms")
        print(
            f"report, cold (a new process, summaries stored, no cached report): {m['cold']:.2f} s "
            f"(target <= 5 s: {met(m['cold'], 5)}); {m['cold'] / base:.1f}x the baseline"
        )
        print(
            f"report after a meeting was sealed (same process): {m['changed']:.2f} s "
            f"(target <= 5 s: {met(m['changed'], 5)}); {m['changed'] / base:.1f}x the baseline"
        )
        print(
            f"report after a restart, nothing changed (cached in the database): {m['restart']:.2f} s; "
            f"{m['restart'] / base:.1f}x the baseline"
        )
        print(
            f"report again, nothing changed (in memory): {m['hot'] * 1000:.0f} ms; "
            f"{m['hot'] / base:.2f}x the baseline"
        )
        p50u, p99u = quantile(pg["unchanged"], 50), quantile(pg["unchanged"], 99)
        p50s, p99s = quantile(pg["after_seal"], 50), quantile(pg["after_seal"], 99)
        print(
            f"page data over HTTP ({pg['size'] / 1024:.0f} KiB), target <= 500 ms: first request of a new "
            f"process, no cached page {pg['first'] * 1000:.0f} ms ({met(pg['first'], 0.5)}, "
            f"{pg['first'] / base:.2f}x the baseline)"
        )
        print(
            f"  unchanged: p50 {p50u * 1000:.0f} ms, p99 {p99u * 1000:.0f} ms ({met(p99u, 0.5)}; "
            f"{p50u / base:.2f}x / {p99u / base:.2f}x the baseline, n={len(pg['unchanged'])})"
        )
        print(
            f"  right after a meeting was sealed: p50 {p50s * 1000:.0f} ms, p99 {p99s * 1000:.0f} ms "
            f"({met(p99s, 0.5)}; {p50s / base:.2f}x / {p99s / base:.2f}x the baseline, "
            f"n={len(pg['after_seal'])})"
        )
        print(
            f"memory: peak Python allocations {bf['peak_backfill_mb']:.0f} MB backfill, "
            f"{m['peak_cold_mb']:.0f} MB cold report, {m['peak_changed_mb']:.0f} MB after a change; "
            f"process peak RSS {rss_mb():.0f} MB"
        )
        print(
            json.dumps(
                {
                    "baseline_s": round(base, 4),
                    "backfill_s": round(bf["backfill"], 3),
                    "at_seal_ms": round(bf["at_seal"] * 1000, 2),
                    "cold_s": round(m["cold"], 3),
                    "changed_s": round(m["changed"], 3),
                    "restart_s": round(m["restart"], 3),
                    "hot_s": round(m["hot"], 4),
                    "page_first_s": round(pg["first"], 3),
                    "page_unchanged_p50_s": round(p50u, 4),
                    "page_unchanged_p99_s": round(p99u, 4),
                    "page_after_seal_p50_s": round(p50s, 4),
                    "page_after_seal_p99_s": round(p99s, 4),
                    "cold_x_baseline": round(m["cold"] / base, 2),
                    "changed_x_baseline": round(m["changed"] / base, 2),
                    "page_after_seal_p99_x_baseline": round(p99s / base, 2),
                    "peak_cold_mb": round(m["peak_cold_mb"], 1),
                    "rss_mb": round(rss_mb()),
                }
            )
        )


if __name__ == "__main__":
    main()
