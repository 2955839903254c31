"""The ``meetingd`` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from meeting.errors import MeetingError

from . import __version__, logs
from .cli_support import config_from_args, run_command, with_services
from .committee.cli import add_committee_commands
from .config import ConfigError, describe
from .keystore import KeyCustodyError
from .minutes_cli import add_minutes_commands
from .security.cli import add_security_commands
from .witness_cli import add_witness_commands


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    logs.setup(cfg.logging.level, cfg.logging.format)

    async def main() -> None:
        from .app import serve

        banner: list[str] = []
        if args.demo:
            from .demo import seed_demo
            from .keystore import provision_demo_passphrase

            written = provision_demo_passphrase(cfg)
            if written is not None:
                banner.append(
                    f"demo: the minutes key's passphrase was written to {written} "
                    "(outside the data directory; back it up separately)"
                )

            async def seed(svc: Any) -> int:
                nonlocal banner
                _created, lines = await seed_demo(
                    svc, lang=args.demo_lang, reset=args.demo_reset, committee=not args.demo_no_committee
                )
                banner = [*banner, *lines]
                return 0

            await with_services(cfg, seed)
        await serve(cfg, banner=banner)

    run_command(main())
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    print(f"{cfg.source}: OK")
    if args.verbose:
        for section, key, _default, _help in describe():
            print(f"  [{section}] {key} = {getattr(getattr(cfg, section), key)!r}")
    return 0


def cmd_members_import(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    text = Path(args.file).read_text(encoding="utf-8")

    async def run(svc: Any) -> int:
        report = await svc.directory.import_csv(text)
        print(
            f"imported {args.file}: {report.created} created, {report.updated} updated, "
            f"{report.cells_created} new cells"
        )
        return 0

    return int(run_command(with_services(cfg, run)))


def cmd_members_list(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        members, cells = await svc.directory.list()
        names = {c.id: c.name for c in cells}
        print(f"{'MEMBER ID':<12} {'STATUS':<10} {'ADMIN':<6} {'ACCESS':<8} {'CELL':<28} NAME")
        for m in members:
            print(
                f"{m.member_id:<12} {m.status:<10} {'yes' if m.is_admin else '':<6} "
                f"{'set' if m.password_hash else 'none':<8} {names.get(m.cell_id, '?'):<28} "
                f"{m.full_name}"
            )
        print(f"{len(members)} members")
        return 0

    return int(run_command(with_services(cfg, run)))


def cmd_members_invite(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        member = await svc.directory.get(args.member_id)
        issued = await svc.accounts.invite(member.id)
        base = (
            cfg.server.public_url.rstrip("/")
            or f"{'http' if cfg.server.tls == 'off' else 'https'}://{cfg.server.host}:{cfg.server.port}"
        )
        print(f"{base}/#/invite/{issued.token}")
        print(f"single use, expires {issued.expires_at.isoformat()}")
        return 0

    return int(run_command(with_services(cfg, run)))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meetingd", description="Hybrid meetings server")
    p.add_argument("--version", action="version", version=f"meetingd {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="TOML config file (default: $MEETINGD_CONFIG)")
    common.add_argument("--data-dir", dest="data_dir", help="override [server] data_dir")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", parents=[common], help="run the server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--tls", choices=["off", "self-signed", "files"])
    s.add_argument("--demo", action="store_true", help="seed the demo organisation and meeting")
    s.add_argument(
        "--demo-lang",
        choices=["en", "vi"],
        default="en",
        help="with --demo: the language of the demo meeting's content (first seeding or --demo-reset)",
    )
    s.add_argument(
        "--demo-reset",
        action="store_true",
        help="with --demo: start the demo anew (a new scheduled demo meeting; old minutes stay)",
    )
    s.add_argument(
        "--demo-no-committee",
        action="store_true",
        help="with --demo: no committee above the demo cell and no meetings already held (tests)",
    )
    s.set_defaults(fn=cmd_serve)

    c = sub.add_parser("check-config", parents=[common], help="validate the configuration")
    c.add_argument("-v", "--verbose", action="store_true", help="print every effective value")
    c.set_defaults(fn=cmd_check_config)

    m = sub.add_parser("members", help="manage members").add_subparsers(dest="sub", required=True)
    mi = m.add_parser(
        "import",
        parents=[common],
        help="import members from CSV (columns: member_id, full_name, cell, contact, status); all or nothing",
    )
    mi.add_argument("file")
    mi.set_defaults(fn=cmd_members_import)
    ml = m.add_parser("list", parents=[common], help="list members")
    ml.set_defaults(fn=cmd_members_list)
    mv = m.add_parser(
        "invite", parents=[common], help="reset a member's access and print a single-use invitation link"
    )
    mv.add_argument("member_id")
    mv.set_defaults(fn=cmd_members_invite)
    add_minutes_commands(sub, common)
    add_witness_commands(sub, common)
    add_security_commands(sub, common)
    add_committee_commands(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        print(f"meetingd: configuration error: {exc}", file=sys.stderr)
        return 2
    except MeetingError as exc:
        print(f"meetingd: {exc.message}", file=sys.stderr)
        return 1
    except KeyCustodyError as exc:
        print(f"meetingd: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
