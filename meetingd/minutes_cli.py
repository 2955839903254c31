"""``meetingd minutes ...`` and ``meetingd keys ...`` (``meetingd verify``: verify_cli.py).

These commands open the daemon's services. Heavy imports are inside the commands so
``meetingd verify`` stays light.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .pdf import CHROMIUM, print_pdf
from .verify_cli import add_verify_command

# -- meetingd minutes export / participation ---------------------------------------------------


def cmd_minutes_export(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        bundle, warnings = await svc.minutes.export(args.meeting_id, args.lang)
        out = Path(args.output or f"meeting-{args.meeting_id}-minutes.json")
        out.write_text(bundle.to_json(), encoding="utf-8")  # noqa: ASYNC240 (a CLI)
        print(
            f"wrote {out}: {len(bundle.entries)} entries, {len(bundle.checkpoints)} "
            f"checkpoints, cosigned by {', '.join(c.role for c in bundle.cosigners) or 'nobody'}"
        )
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        if args.pdf:
            html = await svc.minutes.html(args.meeting_id, None, args.lang)
            pdf = out.with_suffix(".pdf")
            if print_pdf(html, pdf):
                print(f"wrote {pdf}")
            else:
                print(
                    f"no PDF: Chromium is not installed ({CHROMIUM}); print the HTML from a browser instead",
                    file=sys.stderr,
                )
        return 0

    return int(run_command(with_services(cfg, run)))


def cmd_minutes_policy(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        text = await svc.minutes.policy(args.meeting_id)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")  # noqa: ASYNC240 (a CLI)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
        return 0

    return int(run_command(with_services(cfg, run)))


def cmd_minutes_proof(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        sys.stdout.write(await svc.minutes.inclusion_proof(args.meeting_id, args.entry))
        return 0

    return int(run_command(with_services(cfg, run)))


def cmd_minutes_participation(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)

    async def run(svc: Any) -> int:
        text = await svc.minutes.participation_csv(args.meeting_id, None)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")  # noqa: ASYNC240 (a CLI)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
        return 0

    return int(run_command(with_services(cfg, run)))


# -- meetingd keys ------------------------------------------------------------------------------


def _server_keys(cfg: Any) -> list[dict[str, Any]]:
    import base64

    from recorder.keys import fingerprint

    from .minutes import server_public_keys

    return [
        {
            "status": "current" if where == "current" else "retired",
            "file": where,
            "fingerprint": fingerprint(raw),
            "public_key": base64.b64encode(raw).decode(),
        }
        for raw, where in server_public_keys(cfg)
    ]


def _verifier_key(prefix: str, meeting_id: int, public_key_b64: str) -> str:
    import base64

    from recorder.note import SIG_ED25519, VerifierKey

    return VerifierKey(
        f"{prefix.rstrip('/')}/{meeting_id}", SIG_ED25519, base64.b64decode(public_key_b64)
    ).encode()


def cmd_keys_show(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args

    cfg = config_from_args(args)
    keys = _server_keys(cfg)
    if not keys:
        print("no server minutes key yet (it is created when the server first starts)")
        return 1
    prefix = cfg.minutes.origin_prefix.rstrip("/")
    print(f"origin of meeting N's log: {prefix}/N (the key name in its verifier key)")
    for k in keys:
        print(
            f"{k['status']:<8} fingerprint {k['fingerprint']}  public key {k['public_key']}"
            + (f"  ({k['file']})" if k["status"] == "retired" else "")
        )
    example = _verifier_key(prefix, 1, keys[0]["public_key"])
    print(f"verifier key of meeting 1, current key: {example}")
    return 0


def cmd_keys_export(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command, with_services

    cfg = config_from_args(args)
    doc: dict[str, Any] = {
        "format": "meetingd-server-keys/v1",
        "origin_prefix": cfg.minutes.origin_prefix.rstrip("/"),
        "keys": [{k: v for k, v in key.items() if k != "file"} for key in _server_keys(cfg)],
    }
    if args.meeting is not None:

        async def run(svc: Any) -> int:
            view = await svc.minutes.view(args.meeting, None)
            doc["meeting"] = {
                "id": args.meeting,
                "origin": view["origin"],
                "log_key": view["log_key"],
                "log_key_fingerprint": view["log_key_fingerprint"],
                "cosigners": [
                    {"role": o["role"], "member_id": o["member_id"], "key": o["key"]}
                    for o in view["officers"]
                ],
            }
            return 0

        run_command(with_services(cfg, run))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from .cli_support import config_from_args, run_command

    cfg = config_from_args(args)

    async def blockers() -> list[str]:
        from sqlalchemy import select

        from .minutes import MinutesService  # noqa: F401 (registers the minutes tables)
        from .storage.db import create_engine, sessionmaker, upgrade_schema
        from .storage.models import Meeting, MinutesEntry

        engine = create_engine(cfg.database_url)
        try:
            await upgrade_schema(engine)
            async with sessionmaker(engine)() as s:
                out = []
                for m in (
                    await s.scalars(select(Meeting).where(Meeting.state.in_(["open", "closed"])))
                ).all():
                    last = await s.scalar(
                        select(MinutesEntry.type)
                        .where(MinutesEntry.meeting_id == m.id)
                        .order_by(MinutesEntry.seq.desc())
                        .limit(1)
                    )
                    if m.state == "open":
                        out.append(f"meeting {m.id} is open")
                    elif last is not None and last != "minutes_rendered":
                        out.append(f"meeting {m.id} is closed but its minutes are not sealed")
                return out
        finally:
            await engine.dispose()

    problems = run_command(blockers())
    if problems and not args.force:
        for p in problems:
            print(f"meetingd keys rotate: {p}", file=sys.stderr)
        print(
            "seal those minutes first (meetingd minutes export ID), or pass --force; their "
            "logs could no longer be extended",
            file=sys.stderr,
        )
        return 1
    from recorder.keys import encrypt_private_key, fingerprint, generate_private_key

    from .keystore import KeyCustodyError, open_key_file, require_passphrase, server_key_path
    from .minutes import retired_server_keys_dir

    path = server_key_path(cfg)
    if not path.exists():
        print("no server minutes key to rotate", file=sys.stderr)
        return 1
    try:
        pw = require_passphrase(cfg)
        old = open_key_file(path, pw)  # proves we can open it
    except KeyCustodyError as exc:
        print(f"meetingd keys rotate: {exc}", file=sys.stderr)
        return 1
    passphrase = pw.value
    old_fp = fingerprint(old.public_key())
    retired = retired_server_keys_dir(cfg)
    retired.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    keep = retired / f"minutes-server-{stamp}-{old_fp[:16]}.json"
    shutil.copy2(path, keep)
    new = generate_private_key()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(encrypt_private_key(new, passphrase))
    tmp.chmod(0o600)
    tmp.replace(path)
    print(f"retired key {old_fp} (kept as {keep})")
    print(f"new key     {fingerprint(new.public_key())}: used for meetings from now on; restart the server")
    return 0


def cmd_keys_init(args: argparse.Namespace) -> int:
    """Create the server's minutes key, sealed under a passphrase kept outside data_dir."""
    import getpass

    from recorder.keys import fingerprint

    from .keystore import (
        PASSPHRASE_MIN,
        KeyCustodyError,
        Passphrase,
        default_credentials_file,
        find_passphrase,
        load_or_create_server_key,
        server_key_path,
        write_credentials_file,
    )

    cfg = _config_of(args)
    try:
        found = find_passphrase(cfg)
        if found is None:
            if not sys.stdin.isatty():
                print(
                    f"meetingd keys init: no passphrase configured and no terminal to ask on; "
                    f"set {cfg.minutes.key_passphrase_env} or minutes.key_passphrase_file",
                    file=sys.stderr,
                )
                return 1
            first = getpass.getpass(f"passphrase for the minutes key ({PASSPHRASE_MIN}+ chars): ")
            if first != getpass.getpass("again: "):
                print("meetingd keys init: the passphrases differ", file=sys.stderr)
                return 1
            if len(first) < PASSPHRASE_MIN:
                print(f"meetingd keys init: shorter than {PASSPHRASE_MIN} characters", file=sys.stderr)
                return 1
            target = default_credentials_file(cfg)
            write_credentials_file(target, first)
            found = Passphrase(first, str(target))
            print(
                f"wrote the passphrase to {target} (outside the data directory, mode 0600); "
                "back it up apart from the data directory"
            )
        from .app import server_secret

        secret = cfg.auth.secret_key_file or str(cfg.data_path / "secret.key")
        existed = server_key_path(cfg).exists()
        key = load_or_create_server_key(cfg, server_secret(Path(secret)))
    except KeyCustodyError as exc:
        print(f"meetingd keys init: {exc}", file=sys.stderr)
        return 1
    print(
        f"{'opened' if existed else 'created'} {server_key_path(cfg)} (passphrase from "
        f"{found.source}); fingerprint {fingerprint(key.public_key())}"
    )
    return 0


def _config_of(args: argparse.Namespace) -> Any:
    from .cli_support import config_from_args

    return config_from_args(args)


# -- parser -------------------------------------------------------------------------------------


def add_minutes_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Hook the minutes, verify and keys subcommands into ``meetingd``'s parser."""
    mn = sub.add_parser("minutes", help="signed minutes: export, participation").add_subparsers(
        dest="sub", required=True
    )
    ex = mn.add_parser(
        "export", parents=[common], help="write the offline-verifiable bundle of a closed meeting"
    )
    ex.add_argument("meeting_id", type=int)
    ex.add_argument("-o", "--output", help="bundle file (default meeting-ID-minutes.json)")
    ex.add_argument(
        "--lang",
        choices=["en", "vi"],
        default="en",
        help="language to seal in, if not sealed yet, and of the PDF",
    )
    ex.add_argument("--pdf", action="store_true", help="also print a PDF with Chromium")
    ex.set_defaults(fn=cmd_minutes_export)
    po = mn.add_parser(
        "policy", parents=[common], help="a trust policy for the meeting's bundle, as this server sees it"
    )
    po.add_argument("meeting_id", type=int)
    po.add_argument("-o", "--output", help="policy file (default: standard output)")
    po.set_defaults(fn=cmd_minutes_policy)
    pr = mn.add_parser(
        "proof", parents=[common], help="a C2SP tlog-proof of one entry against the latest checkpoint"
    )
    pr.add_argument("meeting_id", type=int)
    pr.add_argument("--entry", type=int, required=True, help="the entry's index (its seq)")
    pr.set_defaults(fn=cmd_minutes_proof)
    pa = mn.add_parser("participation", parents=[common], help="participation report as CSV")
    pa.add_argument("meeting_id", type=int)
    pa.add_argument("-o", "--output", help="CSV file (default: standard output)")
    pa.set_defaults(fn=cmd_minutes_participation)

    add_verify_command(sub)

    k = sub.add_parser("keys", help="the server's minutes signing key").add_subparsers(
        dest="sub", required=True
    )
    ks = k.add_parser("show", parents=[common], help="fingerprints of current and retired keys")
    ks.set_defaults(fn=cmd_keys_show)
    ki = k.add_parser(
        "init",
        parents=[common],
        help="create the minutes key, sealed under a passphrase kept outside data_dir",
    )
    ki.set_defaults(fn=cmd_keys_init)
    kr = k.add_parser(
        "rotate", parents=[common], help="new key for new meetings; the old one is retired and kept"
    )
    kr.add_argument("--force", action="store_true", help="rotate even while meetings are open or unsealed")
    kr.set_defaults(fn=cmd_keys_rotate)
    ke = k.add_parser("export", parents=[common], help="public keys as JSON (for auditors)")
    ke.add_argument("--meeting", type=int, help="also the exact verifier keys of this meeting")
    ke.add_argument("-o", "--output", help="file (default: standard output)")
    ke.set_defaults(fn=cmd_keys_export)
