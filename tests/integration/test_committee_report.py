"""A committee report from the real ``meetingd`` command, and its figures recomputed from the bundles."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

from meetingd.committee.synthetic import seed_organisation
from meetingd.demo import DEMO_CELL

from .conftest import Server


async def meetingd(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "meetingd",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    return int(proc.returncode or 0), out.decode()


async def held_meeting(sign_in) -> None:  # type: ignore[no-untyped-def]
    """The demo meeting, really held: opened, four members join (remote), a floor, closed."""
    chair = await sign_in("C1-CHAIR")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    assert (await chair.join())["ok"]
    for mid in ("C1-001", "C1-002", "C1-003", "C1-004", "C1-005"):
        ack = await (await sign_in(mid)).join(attendance="remote")
        assert ack["ok"], ack
    status, body = await chair.call("POST", "/api/meetings/1/close")
    assert status == 200, body


async def test_report_figures_equal_those_recomputed_from_the_exported_bundles(
    sign_in, server: Server, tmp_path: Path
) -> None:
    await held_meeting(sign_in)
    org = await seed_organisation(server.svc, cells=3, members_per_cell=6, months=3, code="K-T")
    rep = await server.svc.committee.org.import_csv(f"kind,key,name,parent\ncell,{DEMO_CELL},,K-T\n", "test")
    assert rep.cells == 1
    today = server.svc.clock().date()
    data = ["--data-dir", str(server.data_dir)]
    period = ["--from", "2025-01-01", "--to", (today + timedelta(days=2)).isoformat()]
    out, bundles = tmp_path / "report.csv", tmp_path / "bundles"
    code, text = await meetingd(
        "report", "committee", "K-T", *period, "-o", str(out), "--bundles", str(bundles), *data
    )
    assert code == 0, text
    doc = json.loads((tmp_path / "report.json").read_text())
    cells = {c["cell"]: c for c in doc["figures"]["cells"]}
    assert cells[DEMO_CELL]["held"] == 1 and cells[DEMO_CELL]["attended"] == 6  # chair + 5 members
    assert (
        sum(c["held"] for c in cells.values())
        == 10
        == len(doc["bundles"])
        == len(list(bundles.glob("*.json")))
    )
    assert doc["figures"]["totals"]["held"] == 10 and org.members == 18
    assert "#bundle" in out.read_text()

    code, text = await meetingd(
        "report", "verify", str(tmp_path / "report.json"), "--bundles", str(bundles), "--strict"
    )  # every bundle also passes the minutes verifier (tallies too)
    assert code == 0 and "OK: the figures are those recomputed from 10 minutes bundles" in text, text

    # a figure changed in the report is found
    forged = json.loads(json.dumps(doc))
    forged["figures"]["cells"][0]["attended"] += 1
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, text = await meetingd("report", "verify", str(tmp_path / "forged.json"), "--bundles", str(bundles))
    assert code == 1 and "figures.cells differ" in text, text

    # an entry changed in a bundle breaks its signed root
    victim = sorted(bundles.glob("*.json"))[0]
    b = json.loads(victim.read_text())
    i = next(i for i, e in enumerate(b["entries"]) if '"member_joined"' in e or '"member_checked_in"' in e)
    b["entries"][i] = b["entries"][i].replace('"member_', '"member_x', 1)
    victim.write_text(json.dumps(b))
    code, text = await meetingd("report", "verify", str(tmp_path / "report.json"), "--bundles", str(bundles))
    assert code == 1 and "do not have the signed root" in text, text


async def test_the_report_prints_to_pdf_with_headless_chromium(
    sign_in, server: Server, tmp_path: Path
) -> None:
    await seed_organisation(server.svc, cells=2, members_per_cell=5, months=2, code="K-P")
    out = tmp_path / "report.pdf"
    code, text = await meetingd(
        "report",
        "committee",
        "K-P",
        "--from",
        "2025-01-01",
        "--to",
        "2025-12-31",
        "-o",
        str(out),
        "--lang",
        "vi",
        "--data-dir",
        str(server.data_dir),
    )
    assert code == 0, text
    assert out.read_bytes()[:5] == b"%PDF-" and (tmp_path / "report.json").exists()
    admin = await sign_in("C1-CHAIR")
    async with admin.http.get(server.url + "/api/org") as r:
        assert r.status == 200
    cid = next(
        c["id"] for c in (await admin.call("GET", "/api/org"))[1]["tree"]["committees"] if c["code"] == "K-P"
    )
    async with admin.http.get(
        f"{server.url}/api/committees/{cid}/report.pdf?from=2025-01-01&to=2025-12-31"
    ) as r:
        assert r.status == 200 and r.content_type == "application/pdf"
        assert (await r.read())[:5] == b"%PDF-"
    async with admin.http.get(
        f"{server.url}/api/committees/{cid}/report.csv?from=2025-01-01&to=2025-12-31"
    ) as r:
        assert r.status == 200 and "#member" in await r.text()


async def test_the_organisation_log_exports_and_verifies_from_the_command_line(
    sign_in, server: Server, tmp_path: Path
) -> None:
    data = ["--data-dir", str(server.data_dir)]
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,key,name,parent,title\ncommittee,K-A,A,,\ncell_officer,NOBODY,,Nowhere,x\n")
    code, text = await meetingd("org", "import", str(bad), *data)
    assert code == 1 and "line 3: unknown cell 'Nowhere'" in text and "nothing was imported" in text, text
    good = tmp_path / "org.csv"
    good.write_text(
        f"kind,key,name,parent,title\ncommittee,K-A,A,,\ncell,{DEMO_CELL},,K-A,\n"
        "cell_officer,C1-SEC,,Cell 1 - Harbour Ward,secretary\n"
    )
    code, text = await meetingd("org", "import", str(good), *data)
    assert code == 0 and "1 committees, 1 cells" in text, text
    officer = await sign_in("C1-SEC")
    status, _ = await officer.call(
        "POST",
        "/api/profiles/C1-007/changes",
        {"kind": "reward", "data": {"title": "Certificate", "date": "2026-01-01"}, "reason": "good work"},
    )
    assert status == 201
    export = tmp_path / "org-log.json"
    code, text = await meetingd("org", "export", "-o", str(export), *data)
    assert code == 0, text
    key = text.split("log key: ")[1].strip()
    code, text = await meetingd("org", "verify", str(export), "--log-key", key)
    assert code == 0 and text.strip().endswith("OK"), text
    doc = json.loads(export.read_text())
    doc["entries"] = [e.replace("Certificate", "Medal") for e in doc["entries"]]
    export.write_text(json.dumps(doc))
    code, text = await meetingd("org", "verify", str(export), "--log-key", key)
    assert code == 1 and "do not have the signed root" in text and "FAILED" in text, text


async def test_cached_figures_follow_a_meeting_that_closes_later(sign_in, server: Server) -> None:
    rep = await server.svc.committee.org.import_csv(
        f"kind,key,name,parent\ncommittee,K-C,Cache test,\ncell,{DEMO_CELL},,K-C\n", "test"
    )
    assert rep.cells == 1
    admin = await sign_in("C1-CHAIR")
    tree = (await admin.call("GET", "/api/org"))[1]["tree"]
    cid = next(c["id"] for c in tree["committees"] if c["code"] == "K-C")
    path = f"/api/committees/{cid}/figures"
    before = (await admin.call("GET", path))[1]["report"]
    assert before["figures"]["totals"]["held"] == 0 and before["bundles_count"] == 0
    assert (await admin.call("GET", path))[1]["report"]["figures"] == before["figures"]  # cached
    await held_meeting(sign_in)
    after = (await admin.call("GET", path))[1]["report"]
    assert after["figures"]["totals"]["held"] == 1 and after["bundles_count"] == 1
    assert after["figures"]["totals"]["attended"] == 6
