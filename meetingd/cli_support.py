"""What every ``meetingd`` sub-command needs: its config from the common options, an
event loop to run in, and the core services for the length of one command.

Public so that the command modules (``meetingd/cli.py``, ``minutes_cli.py``,
``committee/cli.py``, ``security/cli.py``) share it without importing each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

from .config import Config, load_config


def config_from_args(args: argparse.Namespace) -> Config:
    """``--config`` (or ``MEETINGD_CONFIG``), with ``--host/--port/--data-dir/--tls`` on top."""
    path = args.config or os.environ.get("MEETINGD_CONFIG") or None
    overrides: dict[str, dict[str, Any]] = {"server": {}}
    for opt in ("host", "port", "data_dir", "tls"):
        value = getattr(args, opt, None)
        if value is not None:
            overrides["server"][opt] = value
    return load_config(path, overrides=overrides)


def run_command(coro: Awaitable[Any]) -> Any:
    """Run a command's coroutine (on uvloop when it is installed)."""
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


async def with_services(cfg: Config, fn: Callable[[Any], Awaitable[int]]) -> int:
    """``await fn(core services)``, then release the database."""
    from .app import open_services  # the daemon's assembly: heavy, loaded only when needed

    svc = await open_services(cfg)
    try:
        return await fn(svc)
    finally:
        await svc.dispose_engines()
