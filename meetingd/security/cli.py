"""``meetingd security check`` and ``meetingd security report``."""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta
from typing import Any

from meeting.clock import utc_now

SINCE = re.compile(r"^(\d+)([mhd])$")


def parse_since(text: str, now: datetime) -> datetime:
    """``30m``, ``24h``, ``7d`` or an ISO-8601 time with a zone."""
    m = SINCE.match(text.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: n})
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--since {text!r}: use 30m, 24h, 7d or an ISO time") from None
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--since {text!r}: give a time zone (e.g. a trailing Z)")
    return at


def cmd_security_check(args: argparse.Namespace) -> int:
    from ..cli_support import config_from_args, run_command
    from ..storage.db import create_engine, sessionmaker
    from .check import run_checks

    cfg = config_from_args(args)

    async def run() -> list[Any]:
        # No schema upgrade here: a schema behind is one of the findings.
        engine = create_engine(cfg.database_url)
        try:
            return await run_checks(cfg, sessionmaker(engine))
        finally:
            await engine.dispose()

    findings = run_command(run())
    if args.json:
        print(json.dumps({"findings": [f.to_dict() for f in findings]}, indent=2, ensure_ascii=False))
    else:
        for f in findings:
            print(f"[{f.severity.upper():6}] {f.id}: {f.message}\n          fix: {f.fix}")
        print(f"{len(findings)} finding(s)" if findings else "no findings")
    return 1 if any(f.severity == "high" for f in findings) else 0


def cmd_security_report(args: argparse.Namespace) -> int:
    from ..cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)
    since = parse_since(args.since, utc_now())

    async def run(svc: Any) -> int:
        alerts = await svc.security.log.alerts(since=since, limit=1000)
        events = await svc.security.log.events(since=since, limit=100_000)
        counts: dict[str, int] = {}
        for e in events:
            counts[e["kind"]] = counts.get(e["kind"], 0) + 1
        if args.json:
            print(
                json.dumps(
                    {"since": since.isoformat(), "alerts": alerts, "event_counts": counts},
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return 0
        print(f"security report since {since.isoformat(timespec='seconds')}")
        print(f"\nalerts ({len(alerts)}):")
        for a in alerts:
            handled = ""
            if a["resolved_by"]:
                handled = f" resolved by {a['resolved_by']} at {a['resolved_at']}"
            elif a["acknowledged_by"]:
                handled = f" acknowledged by {a['acknowledged_by']} at {a['acknowledged_at']}"
            print(
                f"  #{a['id']} [{a['severity']}] {a['state']:<12} {a['rule']}: {a['summary']} "
                f"(x{a['count']}, {a['first_at']} .. {a['last_at']}){handled}"
            )
        print(f"\nevents ({len(events)}):")
        for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:6}  {kind}")
        return 0

    return int(run_command(with_services(cfg, run)))


def add_security_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    sec = sub.add_parser("security", help="security self-check and the security report").add_subparsers(
        dest="sub", required=True
    )
    c = sec.add_parser(
        "check", parents=[common], help="risk self-check: each finding with its fix (exit 1 on a high one)"
    )
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=cmd_security_check)
    r = sec.add_parser("report", parents=[common], help="alerts and security events since a time")
    r.add_argument("--since", default="24h", help="30m, 24h, 7d or an ISO-8601 time (default 24h)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_security_report)
