"""``meetingd witness serve`` and ``meetingd witness key`` (the server is in witness.py,
imported only when a witness command runs, so ``meetingd verify`` stays light)."""

from __future__ import annotations

import argparse
from typing import Any

from .config import ConfigError


def cmd_witness_serve(args: argparse.Namespace) -> int:
    from . import logs
    from .cli_support import config_from_args, run_command
    from .witness import serve_witness

    cfg = config_from_args(args)
    logs.setup(cfg.logging.level, cfg.logging.format)
    run_command(serve_witness(cfg))
    return 0


def cmd_witness_key(args: argparse.Namespace) -> int:
    from recorder.cosignature import Cosigner

    from .cli_support import config_from_args
    from .keystore import load_or_create_witness_key

    cfg = config_from_args(args)
    if not cfg.witness.name:
        raise ConfigError(f"{cfg.source}: [witness] name is empty")
    key = Cosigner(cfg.witness.name, load_or_create_witness_key(cfg)).verifier_key
    print(key.encode())
    print(f"fingerprint {key.fingerprint}")
    return 0


def add_witness_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    w = sub.add_parser(
        "witness", help="cosign other servers' minutes logs (C2SP tlog-witness)"
    ).add_subparsers(dest="sub", required=True)
    ws = w.add_parser("serve", parents=[common], help="run the witness (POST /add-checkpoint)")
    ws.set_defaults(fn=cmd_witness_serve)
    wk = w.add_parser("key", parents=[common], help="print the witness's verifier key")
    wk.set_defaults(fn=cmd_witness_key)
