"""The committee's figures at scale (issue 14 benchmark).

A synthetic organisation — 1 committee, 200 cells, 10,000 members, 2,400 closed meetings
(one a month for a year), every meeting a real signed minutes log written where the
journal writes it — in a real SQLite file. Measured, in one run:

* **report, cold**: the committee's figures with an empty summary cache (every meeting's
  minutes read, parsed and folded), then the report document, CSV and HTML;
* **report after a change**: every meeting's summary cached, the figures recomputed (what a
  report costs once one more meeting has closed);
* **report after a restart, nothing changed**: the figures cached in the database;
* **page data**: ``GET /api/committees/{id}/figures`` over HTTP from the real aiohttp app
  on 127.0.0.1, signed in as an administrator (the committee page's one request);
* **memory**: peak Python allocations (tracemalloc) of a cold and a warm report, and the
  process's peak RSS;
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
from sqlalchemy import delete, update

from meetingd.app import build_app, open_services
from meetingd.committee.figures import Figures
from meetingd.committee.report import report_csv, report_document, report_html
from meetingd.committee.synthetic import SyntheticOrg, seed_organisation
from meetingd.config import Config, load_config
from meetingd.keystore import write_credentials_file
from meetingd.passwords import hash_password
from meetingd.services import services_key
from meetingd.storage.models import Member
from meetingd.storage.org_models import CommitteeReportRow, MeetingFiguresRow

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


async def report_once(svc: Any, figures: Figures, committee_id: int) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    data = await figures.committee(None, committee_id, START, END, 3)
    doc = report_document(data, "bench")
    report_csv(doc)
    report_html(doc, "en")
    return time.perf_counter() - t0, doc


async def drop_cache(svc: Any, *, summaries: bool = True) -> None:
    """Forget the stored figures (and, with ``summaries``, every meeting's summary)."""
    async with svc.db() as s, s.begin():
        await s.execute(delete(CommitteeReportRow))
        if summaries:
            await s.execute(delete(MeetingFiguresRow))


async def measure(cfg: Config, org: SyntheticOrg, repeat: int) -> dict[str, Any]:
    """cold: no cached summary anywhere; restart: summaries cached in the database, a new
    process; hot: the same process again, nothing changed (the in-memory report)."""
    svc = await open_services(cfg)
    out: dict[str, Any] = {}
    cid = org.committee_id
    try:
        await drop_cache(svc)
        out["cold"], out["doc"] = await report_once(svc, Figures(svc.db, svc.journal), cid)
        changed, restart = [], []
        for _ in range(repeat):
            await drop_cache(svc, summaries=False)
            changed.append((await report_once(svc, Figures(svc.db, svc.journal), cid))[0])
            figures = Figures(svc.db, svc.journal)
            restart.append((await report_once(svc, figures, cid))[0])
        out["changed"] = statistics.median(changed)
        out["restart"] = statistics.median(restart)
        out["hot"] = statistics.median([(await report_once(svc, figures, cid))[0] for _ in range(repeat)])
        tracemalloc.start()
        await drop_cache(svc)
        await report_once(svc, Figures(svc.db, svc.journal), cid)
        out["peak_cold_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        await drop_cache(svc, summaries=False)
        await report_once(svc, Figures(svc.db, svc.journal), cid)
        out["peak_changed_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        await report_once(svc, Figures(svc.db, svc.journal), cid)
        out["peak_restart_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    finally:
        await svc.engine.dispose()
    return out


async def page_data(cfg: Config, committee_id: int, repeat: int) -> tuple[float, float, int]:
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    app[services_key].public_url = url
    times: list[float] = []
    size = 0
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                url + "/api/login", json={"member_id": ADMIN, "password": PASSWORD}, headers={"Origin": url}
            ) as r:
                assert r.status == 200, await r.text()
            path = f"{url}/api/committees/{committee_id}/figures?from={START}&to={END}"
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                async with http.get(path) as r:
                    body = await r.read()
                    assert r.status == 200, body[:200]
                times.append(time.perf_counter() - t0)
                size = len(body)
    finally:
        await runner.cleanup()
    return times[0], statistics.median(times[1:]), size


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
        base, b_entitled, b_attended = baseline(db, org.committee_id)
        m = asyncio.run(measure(cfg, org, args.repeat))
        # the first server process computes the page's own cached copy; the second is a restart
        primed, _, _ = asyncio.run(page_data(cfg, org.committee_id, 1))
        first, page, size = asyncio.run(page_data(cfg, org.committee_id, args.repeat))
        totals = m["doc"]["figures"]["totals"]
        same = (totals["entitled"], totals["attended"]) == (b_entitled, b_attended)
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
            f"report, cold (no cached summary: every meeting's minutes parsed and folded): {m['cold']:.2f} s "
            f"(target <= 5 s: {'met' if m['cold'] <= 5 else 'MISSED'}); {m['cold'] / base:.1f}x the baseline"
        )
        print(
            f"report after a change (meeting summaries cached, figures recomputed): {m['changed']:.2f} s "
            f"(target <= 5 s: {'met' if m['changed'] <= 5 else 'MISSED'}); "
            f"{m['changed'] / base:.1f}x the baseline"
        )
        print(
            f"report after a restart, nothing changed (figures cached in the database): {m['restart']:.2f} s "
            f"(target <= 5 s: {'met' if m['restart'] <= 5 else 'MISSED'}); "
            f"{m['restart'] / base:.1f}x the baseline"
        )
        print(
            f"report again, nothing changed (in memory): {m['hot'] * 1000:.0f} ms; "
            f"{m['hot'] / base:.2f}x the baseline"
        )
        print(
            f"page data over HTTP: first ever (from the stored report) {primed * 1000:.0f} ms; "
            f"after a restart: first {first * 1000:.0f} ms "
            f"(target <= 500 ms: {'met' if first <= 0.5 else 'MISSED'}), then median {page * 1000:.0f} ms "
            f"(target: {'met' if page <= 0.5 else 'MISSED'}); {first / base:.1f}x and {page / base:.2f}x the "
            f"baseline; {size / 1024:.0f} KiB"
        )
        print(
            f"memory: peak Python allocations {m['peak_cold_mb']:.0f} MB cold, "
            f"{m['peak_changed_mb']:.0f} MB after a change, {m['peak_restart_mb']:.0f} MB after a restart; "
            f"process peak RSS {rss_mb():.0f} MB"
        )
        print(
            json.dumps(
                {
                    "cold_s": round(m["cold"], 3),
                    "changed_s": round(m["changed"], 3),
                    "restart_s": round(m["restart"], 3),
                    "hot_s": round(m["hot"], 4),
                    "page_primed_s": round(primed, 3),
                    "page_first_s": round(first, 3),
                    "page_s": round(page, 4),
                    "baseline_s": round(base, 4),
                    "cold_x_baseline": round(m["cold"] / base, 1),
                    "changed_x_baseline": round(m["changed"] / base, 1),
                    "restart_x_baseline": round(m["restart"] / base, 1),
                    "page_first_x_baseline": round(first / base, 1),
                    "page_x_baseline": round(page / base, 2),
                }
            )
        )


if __name__ == "__main__":
    main()
