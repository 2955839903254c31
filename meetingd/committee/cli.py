"""``meetingd org ...`` and ``meetingd report ...``: organisation import/export/verify, committee reports."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from meeting.clock import iso
from meeting.errors import InvalidInput, NotFound
from recorder.org_log import verify_org_log

from .report import report_csv, report_document, report_html, verify_report


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--{name} must be a date YYYY-MM-DD") from None


def cmd_org_import(args: argparse.Namespace) -> int:
    from ..cli_support import config_from_args, run_command, with_services

    text = Path(args.file).read_text(encoding="utf-8")

    async def run(svc: Any) -> int:
        try:
            rep = await svc.committee.org.import_csv(text, "cli")
        except InvalidInput as exc:
            for line in exc.details.get("errors", [exc.message]):
                print(f"{args.file}: {line}", file=sys.stderr)
            print("nothing was imported", file=sys.stderr)
            return 1
        print(
            f"imported {args.file}: {rep.committees} committees, {rep.cells} cells, {rep.sites} sites, "
            f"{rep.officers} officers"
        )
        return 0

    return int(run_command(with_services(config_from_args(args), run)))


def cmd_org_export(args: argparse.Namespace) -> int:
    from ..cli_support import config_from_args, run_command, with_services

    async def run(svc: Any) -> int:
        doc = await svc.committee.log.export()
        Path(args.output).write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")  # noqa: ASYNC240
        print(f"wrote {args.output}: {len(doc['entries'])} entries, {len(doc['checkpoints'])} checkpoints")
        print(f"log key: {doc['log_key']}")
        return 0

    return int(run_command(with_services(config_from_args(args), run)))


def cmd_org_verify(args: argparse.Namespace) -> int:
    known = [Path(p).read_text(encoding="utf-8") for p in args.checkpoint or []]
    rep = verify_org_log(Path(args.file).read_bytes(), trusted_log_key=args.log_key, known_checkpoints=known)
    print(
        f"origin {rep.origin}: {rep.size} entries, {rep.checkpoints} checkpoints verified, "
        f"log key {rep.log_key_fingerprint or '?'}{'' if args.log_key else ' (not pinned: compare it)'}"
    )
    for e in rep.errors:
        print(f"ERROR {e}")
    print("OK" if rep.ok else "FAILED")
    return 0 if rep.ok else 1


async def _committee_id(svc: Any, ref: str) -> int:
    # the storage stack loads here: `meetingd verify` must run without it (test_minutes_cosign)
    from sqlalchemy import select

    from ..storage.org_models import CommitteeRow

    async with svc.db() as s:
        row = await s.scalar(select(CommitteeRow).where(CommitteeRow.code == ref))
        if row is None and ref.isdigit():
            row = await s.get(CommitteeRow, int(ref))
    if row is None:
        raise NotFound(f"no committee {ref}")
    return int(row.id)


def cmd_report_committee(args: argparse.Namespace) -> int:
    from ..cli_support import config_from_args, run_command, with_services
    from ..pdf import print_pdf

    out = Path(args.output)
    if out.suffix not in (".pdf", ".csv", ".html", ".json"):
        raise InvalidInput("-o must end in .pdf, .csv, .html or .json")
    start, end = _day(args.start, "from"), _day(args.end, "to")

    async def run(svc: Any) -> int:
        cid = await _committee_id(svc, args.committee)
        figures = svc.committee.figures
        if args.bundles:
            # export (sealing if needed) first: the seal adds a checkpoint the figures then cover
            first = await figures.committee(None, cid, start, end, args.absent_run)
            folder = Path(args.bundles)
            folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
            for b in first["bundles"]:
                bundle, _warnings = await svc.minutes.export(int(b["meeting_id"]), args.lang)
                (folder / f"meeting-{b['meeting_id']}-minutes.json").write_text(
                    bundle.to_json(), encoding="utf-8"
                )
        data = await figures.committee(None, cid, start, end, args.absent_run)
        doc = report_document(data, iso(svc.clock()) or "")
        side = out.with_suffix(".json")
        side.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        if out.suffix == ".csv":
            out.write_text(report_csv(doc), encoding="utf-8")  # noqa: ASYNC240
        elif out.suffix == ".html":
            out.write_text(report_html(doc, args.lang), encoding="utf-8")  # noqa: ASYNC240
        elif out.suffix == ".pdf" and not print_pdf(report_html(doc, args.lang), out):
            print("no PDF: Chromium is not installed; write .html or .csv instead", file=sys.stderr)
            return 1
        t = doc["figures"]["totals"]
        print(
            f"wrote {out} and {side}: {t['cells']} cells, {t['held']} meetings held of {t['scheduled']} "
            f"scheduled, attendance {100 * t['attendance_rate']:.1f}%, {len(doc['bundles'])} minutes logs"
        )
        if args.bundles:
            print(f"wrote {len(doc['bundles'])} bundles to {args.bundles}")
        return 0

    return int(run_command(with_services(config_from_args(args), run)))


def cmd_report_verify(args: argparse.Namespace) -> int:
    doc = json.loads(Path(args.report).read_text(encoding="utf-8"))
    folder = Path(args.bundles)
    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.json"))]
    problems = verify_report(doc, texts, trusted_log_key=args.log_key)
    if args.strict:
        # each bundle through the minutes verifier too: closed, sealed, cosigned, consistent
        from recorder.verifier import verify_bundle

        from ..verify_cli import entry_checks

        for path, text in zip(sorted(folder.glob("*.json")), texts, strict=True):
            rep = verify_bundle(text, checks=entry_checks())
            if rep.status == "invalid":
                first = rep.errors[0] if rep.errors else None
                problems.append(f"{path.name}: the minutes verifier says invalid ({first})")
    for p in problems:
        print(f"ERROR {p}")
    n = len(doc.get("bundles", []))
    if problems:
        print(f"FAILED: {len(problems)} problem(s)")
        return 1
    print(f"OK: the figures are those recomputed from {n} minutes bundles")
    return 0


def add_committee_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    o = sub.add_parser("org", help="the organisation tree and its log").add_subparsers(
        dest="sub", required=True
    )
    oi = o.add_parser(
        "import",
        parents=[common],
        help="import committees, cells, sites and officers from CSV "
        "(columns: kind, key, name, parent, title); all or nothing",
    )
    oi.add_argument("file")
    oi.set_defaults(fn=cmd_org_import)
    oe = o.add_parser("export", parents=[common], help="write the organisation log (profiles' history)")
    oe.add_argument("-o", "--output", default="organisation-log.json")
    oe.set_defaults(fn=cmd_org_export)
    ov = o.add_parser("verify", help="verify an organisation log export offline")
    ov.add_argument("file")
    ov.add_argument("--log-key", help="trusted verifier key of the organisation log")
    ov.add_argument("--checkpoint", action="append", help="a checkpoint note seen before (repeatable)")
    ov.set_defaults(fn=cmd_org_verify)

    r = sub.add_parser("report", help="participation reports").add_subparsers(dest="sub", required=True)
    rc = r.add_parser("committee", parents=[common], help="a committee's participation report")
    rc.add_argument("committee", help="committee code (or id)")
    rc.add_argument("--from", dest="start", required=True, help="first day YYYY-MM-DD")
    rc.add_argument("--to", dest="end", required=True, help="last day YYYY-MM-DD")
    rc.add_argument("-o", "--output", required=True, help="report.pdf, .csv, .html or .json")
    rc.add_argument("--lang", choices=["en", "vi"], default="en")
    rc.add_argument("--absent-run", type=int, default=3, help="flag members absent this many times in a row")
    rc.add_argument("--bundles", metavar="DIR", help="also write the minutes bundles the figures come from")
    rc.set_defaults(fn=cmd_report_committee)
    rv = r.add_parser("verify", help="recompute a report's figures from its minutes bundles")
    rv.add_argument("report", help="the report's .json document")
    rv.add_argument("--bundles", metavar="DIR", required=True)
    rv.add_argument("--log-key", help="trusted verifier key of the server's minutes key")
    rv.add_argument(
        "--strict",
        action="store_true",
        help="also run every bundle through the minutes verifier (sealed, cosigned, ...)",
    )
    rv.set_defaults(fn=cmd_report_verify)
