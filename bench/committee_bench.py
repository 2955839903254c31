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
* **report after a seal**: a meeting is sealed (its summary moves to the new checkpoint:
  the figures stay, the list of logs moves); **after one more meeting closed** (a new
  summary: the figures refolded, in the same process); **after a restart, nothing
  changed** (the figures cached in the database) and **unchanged** (in memory);
* **page data**: ``GET /api/committees/{id}/figures`` over HTTP from the real aiohttp app
  on 127.0.0.1, signed in as an administrator (the committee page's one request):
  first request of a new process with no cached page or report, after one more meeting
  closed while no process folded it (the fold stored by the last process is one meeting
  behind), then p50/p99 unchanged, each right after a meeting was sealed, and each right
  after one more meeting closed; and, apart, the first request of a new process with no
  stored fold at all (after an upgrade: every summary folded once);
* **kept fold = full fold**: at the end, the served report's figures are compared with
  :func:`recorder.participation.committee_figures` over every summary;
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
import random
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import delete, select, update

from meetingd.app import build_app, open_services
from meetingd.committee.figures import Figures
from meetingd.committee.report import report_csv, report_document, report_html
from meetingd.committee.summaries import MeetingSummaries
from meetingd.committee.synthetic import SyntheticOrg, add_closed_meeting, seed_organisation
from meetingd.config import Config, load_config
from meetingd.keystore import write_credentials_file
from meetingd.passwords import hash_password
from meetingd.services import services_key
from meetingd.storage.fold_models import CommitteeFoldRow
from meetingd.storage.models import Cell, Meeting, Member
from meetingd.storage.org_models import CommitteeReportRow
from meetingd.storage.participation_models import MeetingSummaryRow
from recorder.participation import committee_figures

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


async def drop_reports(svc: Any, *, folds: bool = False) -> None:
    """Forget the reports cached in the database (the summaries stay), and the stored folds."""
    async with svc.db() as s, s.begin():
        await s.execute(delete(CommitteeReportRow))
        if folds:
            await s.execute(delete(CommitteeFoldRow))


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


class Closer:
    """Closes one more meeting of a cell (in December) each time: new figures to fold."""

    def __init__(self, org: SyntheticOrg) -> None:
        self._org, self._n, self._rng = org, 0, random.Random(5)

    async def close_one(self, svc: Any) -> None:
        cell_id = self._org.cell_ids[self._n % len(self._org.cell_ids)]
        self._n += 1
        async with svc.db() as s:
            rows = await s.execute(
                select(Member.member_id, Member.full_name, Member.id)
                .where(Member.cell_id == cell_id)
                .order_by(Member.member_id)
            )
            people = [(m, n, pk) for m, n, pk in rows.all()]
            name = str(await s.scalar(select(Cell.name).where(Cell.id == cell_id)))
        opened = datetime(END.year, 12, 21, 8, tzinfo=UTC) + timedelta(minutes=self._n)
        await add_closed_meeting(svc, self._rng, cell_id, name, people, opened, title="Extra meeting")


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def backfill(cfg: Config, org: SyntheticOrg, seals: int) -> dict[str, Any]:
    svc = await open_services(cfg)
    out: dict[str, Any] = {}
    try:
        summaries = MeetingSummaries(svc.db, svc.journal, svc.clock)
        t0 = time.perf_counter()
        await summaries.of(org.meeting_ids)
        out["backfill"] = time.perf_counter() - t0
        out["computed"] = summaries.computed
        # memory apart (tracemalloc slows allocation-heavy code several times): a tenth again
        tenth = org.meeting_ids[: max(1, len(org.meeting_ids) // 10)]
        async with svc.db() as s, s.begin():
            await s.execute(delete(MeetingSummaryRow).where(MeetingSummaryRow.meeting_id.in_(tenth)))
        tracemalloc.start()
        await MeetingSummaries(svc.db, svc.journal, svc.clock).of(tenth)
        out["peak_backfill_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
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


async def measure(
    cfg: Config, org: SyntheticOrg, sealer: Sealer, closer: Closer, repeat: int
) -> dict[str, Any]:
    """cold: a new process, summaries stored; changed: a meeting sealed since; restart: a new
    process, the report cached in the database; hot: the same process, nothing changed."""
    svc = await open_services(cfg)
    out: dict[str, Any] = {}
    cid = org.committee_id
    try:
        cold = []
        for _ in range(repeat):
            await drop_reports(svc, folds=True)
            t, out["doc"] = await report_once(fresh_figures(svc), cid)
            cold.append(t)
        out["cold"] = statistics.median(cold)
        figures = svc.committee.figures
        await report_once(figures, cid)
        sealed, closed = [], []
        for _ in range(repeat):
            await sealer.seal_one(svc)
            sealed.append((await report_once(figures, cid))[0])
            await closer.close_one(svc)
            closed.append((await report_once(figures, cid))[0])
        out["sealed"], out["changed"] = statistics.median(sealed), statistics.median(closed)
        # memory apart: tracemalloc slows allocation-heavy code several times
        await drop_reports(svc, folds=True)
        tracemalloc.start()
        await report_once(fresh_figures(svc), cid)
        out["peak_cold_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.reset_peak()
        await closer.close_one(svc)
        await report_once(figures, cid)
        out["peak_changed_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out["hot"] = statistics.median([(await report_once(figures, cid))[0] for _ in range(repeat)])
        out["restart"] = statistics.median(
            [(await report_once(fresh_figures(svc), cid))[0] for _ in range(repeat)]
        )
        # a new process, one more meeting closed meanwhile: the stored fold is one behind
        behind = []
        for _ in range(repeat):
            await closer.close_one(svc)
            await drop_reports(svc)
            behind.append((await report_once(fresh_figures(svc), cid))[0])
        out["restart_behind"] = statistics.median(behind)
        # the kept fold (extended one meeting at a time, stored, reloaded) against the full fold
        data = await figures.committee(None, cid, START, END, 3)
        async with svc.db() as s:
            ids = list((await s.scalars(select(Meeting.id).where(Meeting.state == "closed"))).all())
        every = await MeetingSummaries(svc.db, svc.journal, svc.clock).of(ids)
        full = committee_figures(
            [c.summary for c in every],
            cells=data["cells"],
            scheduled=data["scheduled"],
            start=START.isoformat(),
            end=END.isoformat(),
            absent_run=3,
        )
        out["same_as_full"] = json.dumps(full, ensure_ascii=False) == json.dumps(
            data["figures"], ensure_ascii=False
        )
        out["extended"], out["folds"] = figures.extended, figures.folds
    finally:
        await svc.engine.dispose()
    return out


@asynccontextmanager
async def signed_in_app(cfg: Config) -> AsyncIterator[tuple[Any, aiohttp.ClientSession, str]]:
    """A new process: the real app on 127.0.0.1, and an HTTP client signed in as the admin."""
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    svc = app[services_key]
    svc.public_url = url
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                url + "/api/login", json={"member_id": ADMIN, "password": PASSWORD}, headers={"Origin": url}
            ) as r:
                assert r.status == 200, await r.text()
            yield svc, http, url
    finally:
        await runner.cleanup()


async def timed_get(http: aiohttp.ClientSession, url: str) -> tuple[float, int]:
    """One page-data request: seconds, and the body's size."""
    t0 = time.perf_counter()
    async with http.get(url) as r:
        body = await r.read()
        assert r.status == 200, body[:200]
    return time.perf_counter() - t0, len(body)


async def page_data(
    cfg: Config, committee_id: int, sealer: Sealer, closer: Closer, repeat: int
) -> dict[str, Any]:
    """The committee page's request over HTTP: first of a new process (no cached page, one more
    meeting closed since the fold was stored), then unchanged, then each right after a meeting
    was sealed, then each right after one more meeting closed."""
    core = await open_services(cfg)
    await drop_reports(core)
    await closer.close_one(core)  # closed while no process had the fold: the stored one is behind
    await core.engine.dispose()
    out: dict[str, Any] = {}
    async with signed_in_app(cfg) as (svc, http, url):
        path = f"{url}/api/committees/{committee_id}/figures?from={START}&to={END}"

        async def get() -> float:
            elapsed, out["size"] = await timed_get(http, path)
            return elapsed

        out["first"] = await get()
        out["unchanged"] = [await get() for _ in range(repeat * 4)]
        after = []
        for _ in range(repeat * 2):
            await sealer.seal_one(svc)
            after.append(await get())
        out["after_seal"] = after
        closed = []
        for _ in range(repeat * 2):
            await closer.close_one(svc)
            closed.append(await get())
        out["after_close"] = closed
    return out


async def page_cold(cfg: Config, committee_id: int) -> float:
    """The first page request of a new process with no stored fold and no cached page."""
    core = await open_services(cfg)
    await drop_reports(core, folds=True)
    await core.engine.dispose()
    async with signed_in_app(cfg) as (_, http, url):
        elapsed, _ = await timed_get(
            http, f"{url}/api/committees/{committee_id}/figures?from={START}&to={END}"
        )
        return elapsed


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
        sealer, closer = Sealer(org), Closer(org)
        base, b_entitled, b_attended = baseline(db, org.committee_id)
        bf = asyncio.run(backfill(cfg, org, 50))
        m = asyncio.run(measure(cfg, org, sealer, closer, args.repeat))
        pg = asyncio.run(page_data(cfg, org.committee_id, sealer, closer, args.repeat))
        pg_cold = asyncio.run(page_cold(cfg, org.committee_id))
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
            f"report after a meeting was sealed (same process; the figures stay, the logs listed move): "
            f"{m['sealed']:.2f} s; {m['sealed'] / base:.1f}x the baseline"
        )
        print(
            f"report after one more meeting closed (the figures refolded): {m['changed']:.2f} s "
            f"(target <= 5 s: {met(m['changed'], 5)}); {m['changed'] / base:.1f}x the baseline"
        )
        print(
            f"report after a restart, nothing changed (cached in the database): {m['restart']:.2f} s; "
            f"{m['restart'] / base:.1f}x the baseline"
        )
        print(
            f"report, first of a new process after one more meeting closed (the stored fold one "
            f"behind, no cached report): {m['restart_behind']:.2f} s; "
            f"{m['restart_behind'] / base:.1f}x the baseline"
        )
        print(
            f"kept fold (extended {m['extended']} times, folded from nothing {m['folds']} times) "
            f"= the full fold over every summary: {'yes' if m['same_as_full'] else 'NO, THEY DIFFER'}"
        )
        print(
            f"report again, nothing changed (in memory): {m['hot'] * 1000:.0f} ms; "
            f"{m['hot'] / base:.2f}x the baseline"
        )
        p50u, p99u = quantile(pg["unchanged"], 50), quantile(pg["unchanged"], 99)
        p50s, p99s = quantile(pg["after_seal"], 50), quantile(pg["after_seal"], 99)
        p50c, p99c = quantile(pg["after_close"], 50), quantile(pg["after_close"], 99)
        print(
            f"page data over HTTP ({pg['size'] / 1024:.0f} KiB), target <= 500 ms: first request of a new "
            f"process after one more meeting closed, no cached page {pg['first'] * 1000:.0f} ms "
            f"({met(pg['first'], 0.5)}, {pg['first'] / base:.2f}x the baseline)"
        )
        print(
            f"  first request of a new process with no stored fold (once, after an upgrade): "
            f"{pg_cold * 1000:.0f} ms ({met(pg_cold, 0.5)}, {pg_cold / base:.2f}x the baseline)"
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
            f"  right after one more meeting closed: p50 {p50c * 1000:.0f} ms, p99 {p99c * 1000:.0f} ms "
            f"({met(p99c, 0.5)}; {p50c / base:.2f}x / {p99c / base:.2f}x the baseline, "
            f"n={len(pg['after_close'])})"
        )
        print(
            f"memory: peak Python allocations {bf['peak_backfill_mb']:.0f} MB backfill of a tenth, "
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
                    "page_first_no_fold_s": round(pg_cold, 3),
                    "restart_behind_s": round(m["restart_behind"], 3),
                    "same_as_full": m["same_as_full"],
                    "page_unchanged_p50_s": round(p50u, 4),
                    "page_unchanged_p99_s": round(p99u, 4),
                    "page_after_seal_p50_s": round(p50s, 4),
                    "page_after_seal_p99_s": round(p99s, 4),
                    "page_after_close_p50_s": round(p50c, 4),
                    "page_after_close_p99_s": round(p99c, 4),
                    "sealed_s": round(m["sealed"], 3),
                    "cold_x_baseline": round(m["cold"] / base, 2),
                    "changed_x_baseline": round(m["changed"] / base, 2),
                    "page_after_seal_p99_x_baseline": round(p99s / base, 2),
                    "page_after_close_p99_x_baseline": round(p99c / base, 2),
                    "peak_cold_mb": round(m["peak_cold_mb"], 1),
                    "rss_mb": round(rss_mb()),
                }
            )
        )


if __name__ == "__main__":
    main()
